"""One price cache and one stream of market updates: WebSocket first, REST polling behind it.

Sources:
- the stream (`KalshiWebSocket`, `ticker` channel) is primary: every ticker message updates
  the cache and becomes a snapshot whose version starts at the venue's time (clamped to when
  it arrived, so a venue clock ahead of ours cannot write the future). Per market, versions
  start in the order they were taken in: a start not after the previous one is moved 1 µs
  past it (the venue's `ts` has whole seconds; REST carries no time);
- the poller (`KalshiPoller`) discovers the selected markets (full poll every
  `discovery_interval`), serves every market while the stream is down and the stale ones
  (no update for `stale_after` seconds) while it is up. Markets first seen by polling are
  subscribed on the stream. Each full poll also reconciles: a stream-fed quote that differs
  from REST and got no stream update since the poll started is a mismatch, counted and
  corrected (REST wins); a market the stream updated after the poll's request went out
  keeps the stream's (newer) state and the poll's answer for it is skipped.

Both sources produce `MarketSnapshot`s through one convention (`kalshi_poller.market_snapshot`
for REST; a stream update replaces the same price fields of the market's last snapshot), so
a version is written only when a tracked field really changed.

Persistence (`PersistenceQueue`): a bounded asyncio queue (producers wait when it is full:
backpressure) drained by one writer in batches through the SCD2 writer. While the database
is unavailable the writer keeps draining into a bounded hold buffer and retries; when the
buffer is full the OLDEST held updates are dropped and counted (the newest state of a market
matters most). On shutdown the queue and the hold buffer are flushed (bounded by a timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.errors import ServiceUnavailableError
from precog.schedulers.kalshi_poller import KalshiPoller, MarketSelection
from precog.schedulers.periodic import PeriodicJob, one_line
from precog.utils.clock import Clock, SystemClock

if TYPE_CHECKING:
    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.api_connectors.kalshi_stream_models import StreamEvent, TickerUpdate
    from precog.database.connection import Database
    from precog.schedulers.kalshi_websocket import KalshiWebSocket, Subscription

logger = logging.getLogger(__name__)

STREAM, POLL = "stream", "poll"
TICK = dt.timedelta(microseconds=1)  # PostgreSQL's timestamp resolution
TRACKED_PRICES = ("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price", "volume", "open_interest")

Writer = Callable[[Sequence[MarketSnapshot]], Any]  # async: snapshots -> UpsertResult


# ------------------------------------------------------------------------------ persistence
@dataclass
class QueueStats:
    enqueued: int = 0
    batches: int = 0
    written: UpsertResult = field(default_factory=UpsertResult)
    write_failures: int = 0
    held_peak: int = 0
    dropped: int = 0  # oldest held updates given up while the database was down
    unflushed: int = 0  # left over when a shutdown flush timed out


class PersistenceQueue:
    """Bounded queue -> batched SCD2 writes; holds (bounded) while the database is down."""

    def __init__(
        self,
        write: Writer,
        *,
        maxsize: int = 10_000,
        batch_size: int = 1_000,
        hold_limit: int = 100_000,
        retry_delay: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        self._write = write
        self._queue: asyncio.Queue[MarketSnapshot] = asyncio.Queue(maxsize)
        self._held: deque[MarketSnapshot] = deque()
        self.batch_size = batch_size
        self.hold_limit = hold_limit
        self.retry_delay = retry_delay
        self.clock: Clock = clock or SystemClock()
        self.stats = QueueStats()
        self.database_down = False
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def depth(self) -> int:
        return self._queue.qsize() + len(self._held)

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        """The `MarketSink` interface: enqueue (waits while the queue is full)."""
        for snapshot in snapshots:
            await self.put(snapshot)
        return UpsertResult()  # written later; counted in `stats.written`

    async def put(self, snapshot: MarketSnapshot) -> None:
        self._idle.clear()
        await self._queue.put(snapshot)
        self.stats.enqueued += 1

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="market-persistence")

    def _hold(self, snapshot: MarketSnapshot) -> None:
        self._held.append(snapshot)
        if len(self._held) > self.hold_limit:
            self._held.popleft()
            self.stats.dropped += 1
        self.stats.held_peak = max(self.stats.held_peak, len(self._held))

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._hold(self._queue.get_nowait())

    async def _run(self) -> None:
        while True:
            if not self._held:
                if self._queue.empty():
                    self._idle.set()
                self._held.append(await self._queue.get())
                # the batch in flight stays in `_held` until it is written
                while len(self._held) < self.batch_size and not self._queue.empty():
                    self._held.append(self._queue.get_nowait())
            elif self.database_down:
                self._drain_queue()  # producers keep going; the hold buffer is bounded
            batch = [self._held[i] for i in range(min(self.batch_size, len(self._held)))]
            try:
                result = await self._write(batch)
            except ServiceUnavailableError as exc:
                self.stats.write_failures += 1
                if not self.database_down:
                    logger.warning(
                        "database unavailable; holding %d updates: %s", len(self._held), exc
                    )
                self.database_down = True
                await self.clock.sleep(self.retry_delay)
                continue
            except Exception as exc:  # a batch the database refuses must not stop the writer
                self.stats.write_failures += 1
                logger.error("dropping a batch of %d updates: %s", len(batch), one_line(exc))
                self.stats.dropped += len(batch)
                result = UpsertResult()
            if self.database_down:
                logger.info("database back; writing %d held updates", len(self._held))
            self.database_down = False
            for _ in batch:
                self._held.popleft()
            self.stats.batches += 1
            self.stats.written = self.stats.written + result
            if not self._held and self._queue.empty():
                self._idle.set()

    async def flush(self, within: float) -> bool:
        """Wait until everything queued or held is written (False on timeout)."""
        if self._task is None:
            return self.depth == 0
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return self.depth == 0

    async def close(self, within: float = 30.0) -> None:
        """Flush (bounded by `within` seconds) and stop the writer."""
        if not await self.flush(within):
            self.stats.unflushed = self.depth
            logger.error("shutdown: %d updates could not be written in %.0fs", self.depth, within)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def database_writer(db: Database) -> Writer:
    async def write(snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        from precog.database import crud_operations as crud

        async with db.connection() as conn:
            return await crud.upsert_markets(conn, snapshots)

    return write


# ------------------------------------------------------------------------------ cache
@dataclass(frozen=True)
class Quote:
    """The latest known state of one market, and where and when it came from."""

    ticker: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    last_price: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    status: str
    source: str  # stream | poll
    updated: float  # monotonic time of the last update
    direction: int = 0  # sign of the last change of yes_bid: -1, 0, +1

    @property
    def prices(self) -> tuple[Decimal | None, ...]:
        return tuple(getattr(self, name) for name in TRACKED_PRICES)


def _quote(snapshot: MarketSnapshot, source: str, now: float, previous: Quote | None) -> Quote:
    direction = 0
    if previous is not None and previous.yes_bid is not None and snapshot.yes_bid is not None:
        direction = (snapshot.yes_bid > previous.yes_bid) - (snapshot.yes_bid < previous.yes_bid)
        if direction == 0:
            direction = previous.direction
    return Quote(
        ticker=snapshot.ticker,
        yes_bid=snapshot.yes_bid,
        yes_ask=snapshot.yes_ask,
        no_bid=snapshot.no_bid,
        no_ask=snapshot.no_ask,
        last_price=snapshot.last_price,
        volume=snapshot.volume,
        open_interest=snapshot.open_interest,
        status=snapshot.status,
        source=source,
        updated=now,
        direction=direction,
    )


@dataclass
class ManagerStats:
    stream_updates: int = 0
    unknown_stream_markets: int = 0  # ticker messages for markets not yet seen by polling
    polls: int = 0
    poll_failures: int = 0
    failovers: int = 0
    switch_backs: int = 0
    mismatches: int = 0
    superseded_polls: int = 0  # poll answers older than a stream update: not applied
    subscribed: int = 0
    last_error: str | None = None


class MarketDataManager:
    """WebSocket primary, poller fallback, one cache, one persistence queue."""

    def __init__(
        self,
        client: KalshiClient,
        *,
        stream: KalshiWebSocket | None = None,
        writer: Writer | None = None,
        selection: MarketSelection | None = None,
        clock: Clock | None = None,
        poll_interval: float = 15.0,
        stale_after: float = 30.0,
        discovery_interval: float = 60.0,
        queue_size: int = 10_000,
        batch_size: int = 1_000,
        hold_limit: int = 100_000,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.stream = stream
        self.queue = (
            None
            if writer is None
            else PersistenceQueue(
                writer,
                maxsize=queue_size,
                batch_size=batch_size,
                hold_limit=hold_limit,
                clock=self.clock,
            )
        )
        self.poller = KalshiPoller(
            client, _ManagerSink(self), selection=selection, interval=poll_interval,
            clock=self.clock,
        )  # fmt: skip
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.discovery_interval = discovery_interval
        self.cache: dict[str, Quote] = {}
        self._base: dict[str, MarketSnapshot] = {}  # last full snapshot per market
        self._last_observed: dict[str, dt.datetime] = {}
        self._poll_started = 0.0
        self._reconciling = False
        self._subscription: Subscription | None = None
        self._to_subscribe: set[str] = set()
        self._stream_up = False
        self._warned_empty = False
        self._next_full = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = ManagerStats()
        self.listeners: list[Callable[[Quote], None]] = []

    # -- state -----------------------------------------------------------------------
    @property
    def stream_up(self) -> bool:
        return self._stream_up

    def stale_tickers(self) -> list[str]:
        now = self.clock.monotonic()
        return sorted(t for t, q in self.cache.items() if now - q.updated > self.stale_after)

    # -- intake ------------------------------------------------------------------------
    async def _accept(self, snapshot: MarketSnapshot, source: str) -> None:
        current = self.cache.get(snapshot.ticker)
        if (
            source == POLL
            and current is not None
            and current.source == STREAM
            and current.updated >= self._poll_started
        ):
            # The stream spoke after this poll's request went out: REST's answer is older.
            self.stats.superseded_polls += 1
            return
        # Versions of one market start in the order the manager took them in: the venue's
        # `ts` has whole seconds (several updates share one) and REST has no time at all, so
        # a start not after the previous one moves just past it instead of being dropped
        # as "unchanged" or "stale" by the SCD2 writer.
        last = self._last_observed.get(snapshot.ticker)
        if last is not None and snapshot.observed_at <= last:
            snapshot = dataclasses.replace(snapshot, observed_at=last + TICK)
            if source == STREAM:
                self._base[snapshot.ticker] = snapshot
        self._last_observed[snapshot.ticker] = snapshot.observed_at
        previous = self.cache.get(snapshot.ticker)
        now = self.clock.monotonic()
        if source == POLL:
            self._base[snapshot.ticker] = snapshot
            if previous is None and self.stream is not None:
                self._to_subscribe.add(snapshot.ticker)
            if (
                self._reconciling
                and previous is not None
                and previous.source == STREAM
                and previous.updated < self._poll_started
                and previous.prices != tuple(getattr(snapshot, n) for n in TRACKED_PRICES)
            ):
                self.stats.mismatches += 1
        quote = _quote(snapshot, source, now, previous)
        self.cache[snapshot.ticker] = quote
        for listener in self.listeners:
            listener(quote)
        if self.queue is not None:
            await self.queue.put(snapshot)

    def stream_snapshot(self, update: TickerUpdate) -> MarketSnapshot | None:
        """A stream update as a snapshot: the market's last snapshot with the new prices."""
        base = self._base.get(update.market_ticker)
        if base is None:
            return None
        changes: dict[str, Any] = {
            name: value for name in TRACKED_PRICES if (value := getattr(update, name)) is not None
        }
        venue = update.venue_time
        changes["observed_at"] = (
            venue if venue is not None and venue <= update.received_at else update.received_at
        )
        snapshot = dataclasses.replace(base, **changes)
        self._base[update.market_ticker] = snapshot
        return snapshot

    async def _on_stream_event(self, event: StreamEvent) -> None:
        from precog.api_connectors.kalshi_stream_models import (
            ConnectionChange,
            StreamState,
            TickerUpdate,
        )

        if isinstance(event, ConnectionChange):
            up = event.state is StreamState.CONNECTED
            if up and not self._stream_up:
                if self.stats.failovers:
                    self.stats.switch_backs += 1
                    logger.info("stream back: markets follow the stream again")
            elif not up and self._stream_up:
                self.stats.failovers += 1
                logger.warning("stream down (%s): every market is polled", event.reason)
            self._stream_up = up
            return
        if isinstance(event, TickerUpdate):
            self.stats.stream_updates += 1
            snapshot = self.stream_snapshot(event)
            if snapshot is None:
                self.stats.unknown_stream_markets += 1
                return
            await self._accept(snapshot, STREAM)

    # -- loops -------------------------------------------------------------------------
    async def _consume_stream(self) -> None:
        assert self.stream is not None
        async for event in self.stream.events():
            await self._on_stream_event(event)

    async def poll(self, *, full: bool) -> None:
        """One poll: every selected market (and reconcile), or only the stale ones."""
        tickers = None if full else self.stale_tickers()
        if tickers == []:
            return
        self._poll_started = self.clock.monotonic()
        self._reconciling = full and self._stream_up
        try:
            result = await self.poller.poll_once(keep=False, tickers=tickers)
            self.stats.polls += 1
            if full and result.seen == 0 and not self._warned_empty:
                self._warned_empty = True
                logger.warning(
                    "no markets found for %s; check --series/--tickers or "
                    "data_sources.kalshi.series",
                    self.poller.selection.describe(),
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one failed poll must not stop the service
            self.stats.poll_failures += 1
            self.stats.last_error = one_line(exc)
            logger.warning("poll failed (the next one retries): %s", one_line(exc))
        finally:
            self._reconciling = False
        await self._subscribe_new()

    async def _subscribe_new(self) -> None:
        if self.stream is None or not self._to_subscribe:
            return
        new, self._to_subscribe = sorted(self._to_subscribe), set()
        try:
            if self._subscription is None:
                self._subscription = await self.stream.subscribe(["ticker"], new, wait=False)
            else:
                await self.stream.update_subscription(self._subscription, add_markets=new)
        except Exception as exc:  # the replay after a reconnect carries the list
            logger.warning("subscribing %d markets failed: %s", len(new), one_line(exc))
            if self._subscription is None:
                self._to_subscribe.update(new)
            return
        self.stats.subscribed += len(new)

    async def _poll_tick(self) -> None:
        """Every `poll_interval`: a full poll when discovery is due or the stream is down,
        else the stale markets only."""
        now = self.clock.monotonic()
        full = now >= self._next_full or not self._stream_up
        await self.poll(full=full)
        if full:
            self._next_full = now + self.discovery_interval

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start persistence, the stream and the poll loop (the first poll runs at once)."""
        if self.queue is not None:
            self.queue.start()
        if self.stream is not None:
            await self.stream.start()
            self._tasks.append(asyncio.create_task(self._consume_stream(), name="stream-intake"))
        self._next_full = self.clock.monotonic()
        polling = PeriodicJob("market polling", self._poll_tick, self.poll_interval, self.clock)
        self._tasks.append(asyncio.create_task(polling.run(), name="market-polling"))

    async def stop(self, flush_timeout: float = 30.0) -> None:
        """Stop the sources, then flush everything queued (bounded by `flush_timeout`)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.stream is not None:
            await self.stream.close()
        if self.queue is not None:
            await self.queue.close(flush_timeout)

    async def __aenter__(self) -> MarketDataManager:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def summary(self) -> dict[str, Any]:
        s = self.stats
        out: dict[str, Any] = {
            "markets": len(self.cache),
            "stale": len(self.stale_tickers()),
            "stream_up": self._stream_up,
            "stream_updates": s.stream_updates,
            "polls": s.polls,
            "poll_failures": s.poll_failures,
            "failovers": s.failovers,
            "switch_backs": s.switch_backs,
            "mismatches": s.mismatches,
            "superseded_polls": s.superseded_polls,
            "subscribed": s.subscribed,
            "last_error": s.last_error,
        }
        if self.stream is not None:
            out["reconnects"] = self.stream.stats.reconnects
            out["stream_messages"] = self.stream.stats.messages
        if self.queue is not None:
            q = self.queue.stats
            out.update(
                queue_depth=self.queue.depth,
                versions_written=q.written.written,
                unchanged=q.written.unchanged,
                stale_observations=q.written.stale,
                write_failures=q.write_failures,
                held_peak=q.held_peak,
                dropped=q.dropped,
                unflushed=q.unflushed,
            )
        return out


class _ManagerSink:
    """The poller's sink inside the manager: cache, reconcile, then the persistence queue."""

    def __init__(self, manager: MarketDataManager) -> None:
        self._manager = manager

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        for snapshot in snapshots:
            await self._manager._accept(snapshot, POLL)
        return UpsertResult()


__all__ = [
    "ManagerStats",
    "MarketDataManager",
    "PersistenceQueue",
    "QueueStats",
    "Quote",
    "database_writer",
]
