"""REST polling of Kalshi markets: one cycle = every page of the selection, stored as SCD2.

`KalshiPoller.poll_once()` walks every page of the selected markets (configured series,
explicit tickers, or everything the exchange lists), resolves each market's event and series
from the exchange (cached across cycles, so only new events cost a request), turns each page
into `MarketSnapshot`s with `market_snapshot()` (the one price convention every writer
uses) and hands the page to a `MarketSink` as ONE batch. The write of page N overlaps the
fetch of page N+1 (at most one write in flight, pages stay in order), so a persisted poll
takes about as long as a dry one.

`run()` repeats cycles on an injectable monotonic clock: a failed cycle is logged and
counted and the loop goes on; account state (`AccountCollector`) is collected on its own,
slower interval; cancelling the task stops it cleanly between or inside cycles.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from precog.api_connectors.errors import NotFoundError
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.schedulers.periodic import one_line
from precog.utils.clock import Clock, SystemClock

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.api_connectors.kalshi_models import Market, ParsedPage
    from precog.database.connection import Database
    from precog.schedulers.account_collector import AccountCollector

logger = logging.getLogger(__name__)

EVENT_BATCH = 100  # event tickers per GET /events lookup
MISS_RETRY_SECONDS = 300.0  # an event the exchange did not know is asked for again after this
TICKER_BATCH = 100  # market tickers per GET /markets?tickers=... request
MAX_PAGE_SIZE = 1000


class MarketSink(Protocol):
    """Where a page of snapshots goes: the database directly, or a persistence queue."""

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult: ...


class DatabaseSink:
    """Writes each batch straight through the SCD2 writer (one transaction per batch)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        from precog.database import crud_operations as crud

        async with self._db.connection() as conn:
            return await crud.upsert_markets(conn, snapshots)


@dataclass(frozen=True)
class MarketSelection:
    """Which markets to poll: explicit tickers win over series; neither = every market."""

    series: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    status: str | None = None
    event_ticker: str | None = None

    def describe(self) -> str:
        if self.tickers:
            return f"{len(self.tickers)} tickers"
        if self.series:
            return "series " + ", ".join(self.series)
        return "every market"


@dataclass(frozen=True)
class Parent:
    series_ticker: str
    event_title: str | None
    series_title: str | None


def market_snapshot(market: Market, parent: Parent, observed_at: dt.datetime) -> MarketSnapshot:
    """The one mapping from a venue market to a stored snapshot (the price convention).

    Prices are the venue's dollars as it defines them: yes/no bid and ask, last price;
    volume and open interest are its counts. A REST market carries no time of its last
    price change (`updated_time` is metadata only, reference A4), so the version starts at
    `observed_at`, the time we saw it.
    """
    return MarketSnapshot(
        ticker=market.ticker,
        event_ticker=market.event_ticker,
        series_ticker=parent.series_ticker,
        status=market.status,
        observed_at=observed_at,
        title=market.title,
        subtitle=market.subtitle or market.yes_sub_title,
        yes_bid=market.yes_bid,
        yes_ask=market.yes_ask,
        no_bid=market.no_bid,
        no_ask=market.no_ask,
        last_price=market.last_price,
        volume=market.volume,
        open_interest=market.open_interest,
        open_time=market.open_time,
        close_time=market.close_time,
        result=market.result or None,
        settlement_value=market.settlement_value,
        event_title=parent.event_title,
        series_title=parent.series_title,
    )


class ParentDirectory:
    """event_ticker -> (series, titles), learned from the exchange and kept across cycles."""

    def __init__(self, client: KalshiClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._events: dict[str, tuple[str, str | None]] = {}
        self._missed: dict[str, float] = {}  # event ticker -> when it was not found
        self._series_titles: dict[str, str] | None = None
        self.lookups = 0  # requests made, for statistics and tests

    async def _series(self) -> dict[str, str]:
        if self._series_titles is None:
            self.lookups += 1
            page = await self._client.list_series()
            self._series_titles = {s.ticker: s.title for s in page.items}
        return self._series_titles

    async def resolve(self, markets: Sequence[Market]) -> dict[str, Parent]:
        """Parents of these markets' events; events the exchange does not know are absent."""
        series_titles = await self._series()
        now = self._clock.monotonic()
        missing = sorted(
            t
            for t in {m.event_ticker for m in markets} - self._events.keys()
            if now - self._missed.get(t, -MISS_RETRY_SECONDS) >= MISS_RETRY_SECONDS
        )
        chunks = [missing[i : i + EVENT_BATCH] for i in range(0, len(missing), EVENT_BATCH)]
        await asyncio.gather(*(self._lookup(chunk) for chunk in chunks))
        out: dict[str, Parent] = {}
        for m in markets:
            known = self._events.get(m.event_ticker)
            if known is not None:
                out[m.event_ticker] = Parent(known[0], known[1], series_titles.get(known[0]))
        return out

    async def _lookup(self, chunk: list[str]) -> None:
        self.lookups += 1
        async for event in self._client.iter_events(tickers=chunk):
            self._events[event.event_ticker] = (event.series_ticker, event.title)
        for ticker in chunk:
            if ticker not in self._events:  # e.g. multivariate events are not in GET /events
                self.lookups += 1
                try:
                    event = await self._client.get_event(ticker)
                except NotFoundError:
                    self._missed[ticker] = self._clock.monotonic()
                    continue
                self._events[ticker] = (event.series_ticker, event.title)


@dataclass
class MarketPoll:
    """The outcome of one poll cycle."""

    markets: list[Market] = field(default_factory=list)  # empty unless kept
    seen: int = 0  # markets fetched
    stored: UpsertResult | None = None  # None when nothing was persisted (no sink)
    pages: int = 0
    parse_errors: int = 0
    skipped: list[str] = field(default_factory=list)  # markets without a known event
    seconds: float = 0.0


@dataclass
class PollerStats:
    cycles: int = 0
    failed_cycles: int = 0
    pages: int = 0
    markets_seen: int = 0
    parse_errors: int = 0
    skipped: int = 0
    stored: UpsertResult = field(default_factory=UpsertResult)
    account_cycles: int = 0
    account_failed: int = 0
    last_cycle_seconds: float = 0.0
    last_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "cycles": self.cycles,
            "failed_cycles": self.failed_cycles,
            "pages": self.pages,
            "markets_seen": self.markets_seen,
            "parse_errors": self.parse_errors,
            "skipped": self.skipped,
            "created": self.stored.created,
            "updated": self.stored.updated,
            "unchanged": self.stored.unchanged,
            "stale": self.stored.stale,
            "account_cycles": self.account_cycles,
            "account_failed": self.account_failed,
            "last_cycle_seconds": round(self.last_cycle_seconds, 3),
            "last_error": self.last_error,
        }


PageListener = Callable[[Sequence["Market"], dt.datetime], Awaitable[None] | None]


class KalshiPoller:
    """Polls the selected markets into a sink; see the module docstring."""

    def __init__(
        self,
        client: KalshiClient,
        sink: MarketSink | None,
        *,
        selection: MarketSelection | None = None,
        interval: float = 15.0,
        page_size: int = MAX_PAGE_SIZE,
        clock: Clock | None = None,
        account: AccountCollector | None = None,
        account_interval: float = 60.0,
        on_page: PageListener | None = None,
    ) -> None:
        if interval <= 0 or account_interval <= 0:
            raise ValueError("poll intervals must be positive")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
        self.client = client
        self.sink = sink
        self.selection = selection or MarketSelection()
        self.interval = interval
        self.page_size = page_size
        self.clock: Clock = clock or SystemClock()
        self.account = account
        self.account_interval = account_interval
        self.on_page = on_page
        self.parents = ParentDirectory(client, self.clock)
        self.stats = PollerStats()

    # -- one cycle ---------------------------------------------------------------------
    async def poll_once(
        self, *, keep: bool = True, tickers: Sequence[str] | None = None
    ) -> MarketPoll:
        """Fetch every page of the selection (or of `tickers`) and store it, page by page.

        `keep=False` drops the fetched markets after use (a long-running loop needs only
        the counts). A failure propagates; `run()` is what counts and survives it.
        """
        started = self.clock.monotonic()
        poll = MarketPoll(stored=None if self.sink is None else UpsertResult())
        pending: asyncio.Task[UpsertResult] | None = None
        try:
            async for page in self._pages(tickers):
                poll.pages += 1
                poll.parse_errors += len(page.errors)
                poll.seen += len(page.items)
                if keep:
                    poll.markets.extend(page.items)
                observed = self.clock.now()
                if self.on_page is not None:
                    notified = self.on_page(page.items, observed)
                    if notified is not None:
                        await notified
                if self.sink is None or not page.items:
                    continue
                snapshots = await self._snapshots(page.items, observed, poll.skipped)
                if pending is not None:
                    poll.stored = (poll.stored or UpsertResult()) + await pending
                pending = asyncio.ensure_future(self.sink.write(snapshots))
            if pending is not None:
                poll.stored = (poll.stored or UpsertResult()) + await pending
                pending = None
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        poll.seconds = self.clock.monotonic() - started
        self._count(poll)
        return poll

    async def _pages(self, tickers: Sequence[str] | None) -> AsyncIterator[ParsedPage[Market]]:
        sel = self.selection
        wanted = tuple(tickers) if tickers is not None else sel.tickers
        if wanted:
            for i in range(0, len(wanted), TICKER_BATCH):
                async for page in self.client.iter_market_pages(
                    limit=self.page_size, tickers=list(wanted[i : i + TICKER_BATCH])
                ):
                    yield page
            return
        for series in sel.series or (None,):
            async for page in self.client.iter_market_pages(
                limit=self.page_size,
                series_ticker=series,
                status=sel.status,
                event_ticker=sel.event_ticker,
            ):
                yield page

    async def _snapshots(
        self, markets: Sequence[Market], observed: dt.datetime, skipped: list[str]
    ) -> list[MarketSnapshot]:
        parents = await self.parents.resolve(markets)
        out = []
        for m in markets:
            parent = parents.get(m.event_ticker)
            if parent is None:
                skipped.append(m.ticker)
                continue
            out.append(market_snapshot(m, parent, observed))
        return out

    def _count(self, poll: MarketPoll) -> None:
        s = self.stats
        s.cycles += 1
        s.pages += poll.pages
        s.markets_seen += poll.seen
        s.parse_errors += poll.parse_errors
        s.skipped += len(poll.skipped)
        if poll.stored is not None:
            s.stored = s.stored + poll.stored
        s.last_cycle_seconds = poll.seconds

    # -- the loop ----------------------------------------------------------------------
    async def run(self, *, cycles: int | None = None) -> None:
        """Poll every `interval` seconds (monotonic) until cancelled or `cycles` are done.

        Markets and account state keep their own schedules; a tick that was missed because
        a cycle overran is skipped, not made up in a burst.
        """
        now = self.clock.monotonic()
        next_markets = now
        next_account = now if self.account is not None else float("inf")
        done = 0
        while cycles is None or done < cycles:
            now = self.clock.monotonic()
            if now >= next_markets:
                await self._guarded_markets()
                done += 1
                next_markets = _next_tick(next_markets, self.interval, self.clock.monotonic())
            if self.account is not None and self.clock.monotonic() >= next_account:
                await self._guarded_account()
                next_account = _next_tick(
                    next_account, self.account_interval, self.clock.monotonic()
                )
            if cycles is not None and done >= cycles:
                break
            wait = min(next_markets, next_account) - self.clock.monotonic()
            await self.clock.sleep(max(0.0, wait))

    async def _guarded_markets(self) -> None:
        try:
            await self.poll_once(keep=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failed cycle must not end the loop
            self.stats.cycles += 1
            self.stats.failed_cycles += 1
            self.stats.last_error = one_line(exc)
            logger.warning("market poll failed (the next cycle retries): %s", one_line(exc))

    async def _guarded_account(self) -> None:
        assert self.account is not None
        try:
            await self.account.collect()
            self.stats.account_cycles += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # same rule as for markets
            self.stats.account_cycles += 1
            self.stats.account_failed += 1
            self.stats.last_error = one_line(exc)
            logger.warning("account poll failed (the next cycle retries): %s", one_line(exc))


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The first tick of the schedule `previous + k * interval` that is still ahead."""
    tick = previous + interval
    if tick <= now:
        tick += ((now - tick) // interval + 1) * interval
    while tick <= now:  # floor division of floats can land one interval short
        tick += interval
    return tick


__all__ = [
    "DatabaseSink",
    "KalshiPoller",
    "MarketPoll",
    "MarketSelection",
    "MarketSink",
    "Parent",
    "ParentDirectory",
    "PollerStats",
    "market_snapshot",
]
