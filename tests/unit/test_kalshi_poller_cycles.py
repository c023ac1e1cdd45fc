"""KalshiPoller over httpx.MockTransport (a hand-written exchange of five markets) and a
FakeClock: pagination, parents, one batch per page, the price convention, the interval loop
that survives failed cycles, and clean cancellation. Expected values are written out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.schedulers.kalshi_poller import (
    KalshiPoller,
    MarketSelection,
    _next_tick,
)
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy

pytestmark = pytest.mark.module("kalshi_poller")

BASE = "http://exchange.test/trade-api/v2"


def market(ticker: str, event: str, bid: str, ask: str) -> dict[str, Any]:
    no_bid, no_ask = str(1 - Decimal(ask)), str(1 - Decimal(bid))
    return {
        "ticker": ticker, "event_ticker": event, "market_type": "binary", "status": "active",
        "title": f"title {ticker}", "yes_bid_dollars": bid, "yes_ask_dollars": ask,
        "no_bid_dollars": no_bid, "no_ask_dollars": no_ask, "last_price_dollars": bid,
        "volume_fp": "10.00", "open_interest_fp": "3.00", "result": "",
        "open_time": "2026-10-01T14:00:00Z", "close_time": "2026-12-05T20:00:00Z",
        "updated_time": "2026-09-30T14:00:00Z",
    }  # fmt: skip


MARKETS = [
    market("KXA-1", "KXA-EV1", "0.4200", "0.4400"),
    market("KXA-2", "KXA-EV1", "0.1000", "0.1300"),
    market("KXB-1", "KXB-EV1", "0.5000", "0.5100"),
    market("KXG-1", "KXGHOST", "0.3000", "0.3200"),  # its event is unknown to the exchange
    market("KXB-2", "KXB-EV2", "0.9000", "0.9900"),
]
EVENTS = {
    "KXA-EV1": {"event_ticker": "KXA-EV1", "series_ticker": "KXA", "title": "Event A1"},
    "KXB-EV1": {"event_ticker": "KXB-EV1", "series_ticker": "KXB", "title": "Event B1"},
    "KXB-EV2": {"event_ticker": "KXB-EV2", "series_ticker": "KXB", "title": "Event B2"},
}
SERIES = [{"ticker": "KXA", "title": "Series A"}, {"ticker": "KXB", "title": "Series B"}]


class Exchange:
    """Serves MARKETS in pages of `limit`; `fail` failures (500) before answering /markets."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.fail = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/trade-api/v2")
        q = request.url.params
        if path == "/series":
            return httpx.Response(200, json={"series": SERIES})
        if path == "/markets":
            if self.fail:
                self.fail -= 1
                return httpx.Response(500, json={"error": {"code": "internal", "message": "x"}})
            chosen = [m for m in MARKETS if not q.get("series_ticker")
                      or m["event_ticker"].startswith(q["series_ticker"])]  # fmt: skip
            if q.get("tickers"):
                chosen = [m for m in chosen if m["ticker"] in q["tickers"].split(",")]
            start, limit = int(q.get("cursor") or 0), int(q["limit"])
            more = start + limit < len(chosen)
            return httpx.Response(
                200,
                json={"markets": chosen[start : start + limit],
                      "cursor": str(start + limit) if more else ""},
            )  # fmt: skip
        if path == "/events":
            wanted = q["tickers"].split(",")
            return httpx.Response(
                200, json={"events": [EVENTS[t] for t in wanted if t in EVENTS], "cursor": ""}
            )
        if path.startswith("/events/"):
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})
        raise AssertionError(f"unexpected request {request.url}")


class RecordingSink:
    """The sink port: records each batch and answers as a first write would."""

    def __init__(self) -> None:
        self.batches: list[list[MarketSnapshot]] = []

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        self.batches.append(list(snapshots))
        return UpsertResult(created=len(snapshots))


def client(exchange: Exchange, clock: FakeClock) -> KalshiClient:
    return KalshiClient(
        BASE,
        limiter=AccountLimiter(Tier.PRIME, clock=clock),
        public_limiter=AccountLimiter(Tier.PRIME, clock=clock),
        transport=httpx.MockTransport(exchange),
        clock=clock,
        retry_policy=RetryPolicy(max_retries=1, base_delay=0.5),
    )


async def test_poll_once_pages_resolves_parents_and_writes_one_batch_per_page() -> None:
    clock, exchange, sink = FakeClock(), Exchange(), RecordingSink()
    async with client(exchange, clock) as c:
        poller = KalshiPoller(c, sink, page_size=2, clock=clock)
        poll = await poller.poll_once()
    assert [m.ticker for m in poll.markets] == ["KXA-1", "KXA-2", "KXB-1", "KXG-1", "KXB-2"]
    assert poll.pages == 3
    assert [[s.ticker for s in b] for b in sink.batches] == [["KXA-1", "KXA-2"], ["KXB-1"],
                                                             ["KXB-2"]]  # fmt: skip
    assert poll.skipped == ["KXG-1"]
    assert poll.stored == UpsertResult(created=4)
    first = sink.batches[0][0]
    assert (first.series_ticker, first.event_title, first.series_title) == (
        "KXA",
        "Event A1",
        "Series A",
    )
    # one price convention: the venue's dollars, exactly; the version starts when we saw it
    assert (first.yes_bid, first.yes_ask, first.no_bid, first.no_ask, first.last_price) == (
        Decimal("0.4200"), Decimal("0.4400"), Decimal("0.5600"), Decimal("0.5800"),
        Decimal("0.4200"),
    )  # fmt: skip
    assert first.observed_at == clock.now()
    assert poller.stats.markets_seen == 5
    assert poller.stats.pages == 3


async def test_known_events_are_not_looked_up_again() -> None:
    clock, exchange = FakeClock(), Exchange()
    async with client(exchange, clock) as c:
        poller = KalshiPoller(c, RecordingSink(), page_size=5, clock=clock)
        await poller.poll_once()
        first = len(exchange.requests)
        await poller.poll_once()
    # the second cycle: only /markets (the ghost event's miss is remembered for a while)
    second = [r.url.path for r in exchange.requests[first:]]
    assert second.count("/trade-api/v2/markets") == 1
    assert "/trade-api/v2/series" not in second
    assert not any(p.endswith("/events") for p in second)


async def test_selection_by_series_and_by_tickers() -> None:
    clock, exchange = FakeClock(), Exchange()
    async with client(exchange, clock) as c:
        by_series = KalshiPoller(c, None, selection=MarketSelection(series=("KXB",)), clock=clock)
        assert [m.ticker for m in (await by_series.poll_once()).markets] == ["KXB-1", "KXB-2"]
        one = MarketSelection(tickers=("KXA-2",))
        by_ticker = KalshiPoller(c, None, selection=one, clock=clock)
        assert [m.ticker for m in (await by_ticker.poll_once()).markets] == ["KXA-2"]
        assert MarketSelection(series=("KXB",)).describe() == "series KXB"


async def test_dry_poll_stores_nothing_and_keeps_no_markets_when_asked() -> None:
    clock, exchange = FakeClock(), Exchange()
    async with client(exchange, clock) as c:
        poll = await KalshiPoller(c, None, clock=clock).poll_once(keep=False)
    assert poll.stored is None
    assert poll.markets == []
    assert poll.seen == 5


async def test_run_loop_keeps_its_interval_and_survives_a_failed_cycle() -> None:
    clock, exchange, sink = FakeClock(), Exchange(), RecordingSink()
    async with client(exchange, clock) as c:
        poller = KalshiPoller(c, sink, interval=15.0, page_size=5, clock=clock)
        await poller.poll_once()
        exchange.fail = 2  # the loop's first cycle fails: the attempt and its one retry get 500
        start = clock.monotonic()
        await poller.run(cycles=3)
    stats = poller.stats
    assert (stats.cycles, stats.failed_cycles) == (4, 1)
    assert stats.last_error is not None
    assert "ServerError" in stats.last_error
    assert len(sink.batches) == 3  # the first poll, and cycles 2 and 3 of the loop
    # cycles start at +0, +15, +30 (the retry's wait happens inside cycle 1, the loop's
    # sleeps make up the rest of each interval)
    assert clock.monotonic() - start == pytest.approx(30.0)


async def test_account_state_has_its_own_slower_schedule() -> None:
    class CountingAccount:
        def __init__(self) -> None:
            self.at: list[float] = []

        async def collect(self) -> None:
            self.at.append(clock.monotonic())

    clock, exchange = FakeClock(start=0.0), Exchange()
    account = CountingAccount()
    async with client(exchange, clock) as c:
        poller = KalshiPoller(
            c,
            None,
            interval=10,
            account=account,
            account_interval=30,
            clock=clock,  # type: ignore[arg-type]
        )
        await poller.run(cycles=7)  # market cycles at 0, 10, ..., 60
    assert account.at == [0.0, 30.0, 60.0]
    assert poller.stats.account_cycles == 3


async def test_cancelling_the_loop_stops_it_cleanly() -> None:
    clock, exchange = FakeClock(), Exchange()
    async with client(exchange, clock) as c:
        poller = KalshiPoller(c, RecordingSink(), interval=5, clock=clock)
        task = asyncio.create_task(poller.run())
        for _ in range(1000):  # bounded: the loop runs on the fake clock, never really sleeps
            if poller.stats.cycles >= 3:
                break
            await asyncio.sleep(0)
        assert poller.stats.cycles >= 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cycles = poller.stats.cycles
        for _ in range(20):
            await asyncio.sleep(0)
        assert poller.stats.cycles == cycles  # nothing runs after the cancellation
        assert poller.stats.failed_cycles == 0


@pytest.mark.parametrize(
    ("previous", "interval", "now", "expected"),
    [(0, 10, 3, 10), (0, 10, 10, 20), (0, 10, 35, 40), (5, 2, 5.5, 7), (0, 10, 0, 10)],
)
def test_next_tick_skips_missed_ticks(
    previous: float, interval: float, now: float, expected: float
) -> None:
    assert _next_tick(previous, interval, now) == expected


def test_invalid_settings_are_refused() -> None:
    c = KalshiClient(BASE)
    with pytest.raises(ValueError, match="positive"):
        KalshiPoller(c, None, interval=0)
    with pytest.raises(ValueError, match="page size"):
        KalshiPoller(c, None, page_size=1001)
