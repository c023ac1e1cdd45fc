"""MarketDataManager and its PersistenceQueue without network or database: the writer is
the injected port (a coroutine that records batches or raises DatabaseUnavailableError), the
exchange is httpx.MockTransport, time is a FakeClock. Expected values are written out."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.kalshi_stream_models import ConnectionChange, StreamState, TickerUpdate
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.errors import DatabaseUnavailableError
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.schedulers.market_data_manager import MarketDataManager, PersistenceQueue
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("market_data_manager")

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
D = Decimal


def snap(ticker: str, bid: str, *, at: int = 0) -> MarketSnapshot:
    return MarketSnapshot(
        ticker=ticker, event_ticker="KXE-1", series_ticker="KXE", status="active",
        observed_at=T0 + dt.timedelta(seconds=at), yes_bid=D(bid), yes_ask=D(bid) + D("0.02"),
    )  # fmt: skip


class Writer:
    """The database port: records batches; fails while `down`; can be held by `gate`."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.down = 0  # calls still to fail
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        await self.gate.wait()
        if self.down:
            self.down -= 1
            raise DatabaseUnavailableError("database server at test is down")
        self.batches.append([f"{s.ticker}@{s.yes_bid}" for s in snapshots])
        return UpsertResult(created=len(snapshots))


async def test_queue_writes_in_order_in_batches() -> None:
    writer = Writer()
    queue = PersistenceQueue(writer, maxsize=10, batch_size=2, clock=FakeClock())
    for i in range(5):
        await queue.put(snap(f"M{i}", "0.10"))
    queue.start()
    assert await queue.flush(5)
    assert writer.batches == [["M0@0.10", "M1@0.10"], ["M2@0.10", "M3@0.10"], ["M4@0.10"]]
    assert queue.stats.written == UpsertResult(created=5)
    await queue.close()


async def test_full_queue_makes_producers_wait() -> None:
    writer = Writer()
    writer.gate.clear()  # the database is slow: the first batch is stuck in flight
    queue = PersistenceQueue(writer, maxsize=2, batch_size=1, clock=FakeClock())
    queue.start()
    await queue.put(snap("A", "0.10"))
    for _ in range(3):
        await asyncio.sleep(0)  # the writer takes A
    await queue.put(snap("B", "0.10"))
    await queue.put(snap("C", "0.10"))
    blocked = asyncio.create_task(queue.put(snap("D", "0.10")))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not blocked.done()  # backpressure: the queue is full
    writer.gate.set()
    await asyncio.wait_for(blocked, 5)
    assert await queue.flush(5)
    assert [b[0] for b in writer.batches] == ["A@0.10", "B@0.10", "C@0.10", "D@0.10"]
    await queue.close()


async def test_updates_are_held_while_the_database_is_down_and_written_after() -> None:
    writer, clock = Writer(), FakeClock()
    writer.down = 3
    queue = PersistenceQueue(writer, maxsize=10, batch_size=10, retry_delay=1.0, clock=clock)
    queue.start()
    for i in range(4):
        await queue.put(snap("M", f"0.{10 + i}", at=i))
    assert await queue.flush(5)
    assert writer.batches == [["M@0.10", "M@0.11", "M@0.12", "M@0.13"]]  # nothing lost
    assert queue.stats.write_failures == 3
    assert clock.sleeps[:3] == [1.0, 1.0, 1.0]  # retried on the clock
    assert queue.stats.dropped == 0
    assert not queue.database_down
    await queue.close()


async def test_hold_buffer_is_bounded_and_drops_the_oldest() -> None:
    writer = Writer()
    writer.down = 10**9  # down for good
    queue = PersistenceQueue(writer, maxsize=100, batch_size=2, hold_limit=3, clock=FakeClock())
    queue.start()
    for i in range(6):
        await queue.put(snap(f"M{i}", "0.10"))
    for _ in range(50):
        await asyncio.sleep(0)
    assert queue.depth == 3
    assert queue.stats.dropped == 3
    writer.down = 0
    assert await queue.flush(5)
    assert [t for b in writer.batches for t in b] == ["M3@0.10", "M4@0.10", "M5@0.10"]
    await queue.close()


async def test_close_reports_what_could_not_be_flushed() -> None:
    writer = Writer()
    writer.down = 10**9
    queue = PersistenceQueue(writer, batch_size=5, clock=FakeClock())
    queue.start()
    for i in range(4):
        await queue.put(snap(f"M{i}", "0.10"))
    await queue.close(within=0.05)
    assert queue.stats.unflushed == 4
    assert writer.batches == []


# ---------------------------------------------------------------------------- the manager
def market(ticker: str, bid: str) -> dict[str, Any]:
    ask = D(bid) + D("0.02")
    return {
        "ticker": ticker, "event_ticker": "KXE-1", "status": "active", "result": "",
        "yes_bid_dollars": bid, "yes_ask_dollars": str(ask), "no_bid_dollars": str(1 - ask),
        "no_ask_dollars": str(1 - D(bid)), "last_price_dollars": bid, "volume_fp": "5.00",
    }  # fmt: skip


def rest(prices: dict[str, str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/trade-api/v2")
        if path == "/series":
            return httpx.Response(200, json={"series": [{"ticker": "KXE", "title": "E"}]})
        if path == "/events":
            event = {"event_ticker": "KXE-1", "series_ticker": "KXE", "title": "E1"}
            return httpx.Response(200, json={"events": [event], "cursor": ""})
        wanted = request.url.params.get("tickers")
        chosen = [t for t in prices if not wanted or t in wanted.split(",")]
        return httpx.Response(
            200, json={"markets": [market(t, prices[t]) for t in chosen], "cursor": ""}
        )

    return httpx.MockTransport(handle)


def fake_client(transport: httpx.MockTransport, clock: FakeClock) -> KalshiClient:
    return KalshiClient(
        "http://x.test/trade-api/v2",
        transport=transport,
        clock=clock,
        limiter=AccountLimiter(Tier.PRIME, clock=clock),
        public_limiter=AccountLimiter(Tier.PRIME, clock=clock),
    )


def ticker_update(ticker: str, bid: str, *, venue: dt.datetime | None, received: dt.datetime
                  ) -> TickerUpdate:  # fmt: skip
    return TickerUpdate(
        market_ticker=ticker, yes_bid=D(bid), yes_ask=D(bid) + D("0.02"), last_price=None,
        yes_bid_size=None, yes_ask_size=None, last_trade_size=None, volume=D("9.00"),
        open_interest=None, venue_time=venue, received_at=received,
    )  # fmt: skip


async def test_stream_updates_merge_into_the_last_snapshot_and_fail_over() -> None:
    clock, writer = FakeClock(), Writer()
    prices = {"KXE-A": "0.40", "KXE-B": "0.60"}
    async with fake_client(rest(prices), clock) as client:
        manager = MarketDataManager(client, writer=writer, clock=clock, stale_after=30)
        assert manager.queue is not None
        manager.queue.start()
        await manager.poll(full=True)
        assert set(manager.cache) == {"KXE-A", "KXE-B"}
        assert manager.cache["KXE-A"].source == "poll"

        now = clock.now()
        # a venue time ahead of our clock is clamped to when the message arrived
        ahead = ticker_update("KXE-A", "0.45", venue=now + dt.timedelta(hours=1), received=now)
        await manager._on_stream_event(ahead)
        quote = manager.cache["KXE-A"]
        assert (quote.source, quote.yes_bid, quote.direction) == ("stream", D("0.45"), 1)
        assert quote.last_price == D("0.40")  # not in the message: kept from the snapshot
        assert quote.volume == D("9.00")
        merged = manager.stream_snapshot(
            ticker_update("KXE-A", "0.44", venue=now - dt.timedelta(seconds=5), received=now)
        )
        assert merged is not None
        assert merged.observed_at == now - dt.timedelta(seconds=5)  # the venue's time
        assert (merged.series_ticker, merged.event_title) == ("KXE", "E1")

        await manager._on_stream_event(ticker_update("KXE-Z", "0.1", venue=None, received=now))
        assert manager.stats.unknown_stream_markets == 1

        up, down = (ConnectionChange(s, "test", now)
                    for s in (StreamState.CONNECTED, StreamState.RECONNECTING))  # fmt: skip
        for event in (up, down, up, down, up):
            await manager._on_stream_event(event)
        assert (manager.stats.failovers, manager.stats.switch_backs) == (2, 2)
        assert manager.stream_up

        # staleness on the injected clock: B has not been updated for 31 s
        clock.advance(31)
        await manager._on_stream_event(ahead)
        assert manager.stale_tickers() == ["KXE-B"]
        # reconciliation: REST says A is 0.40, the stream said 0.45 before the poll began
        clock.advance(1)
        await manager.poll(full=True)
        assert manager.stats.mismatches == 1
        assert manager.cache["KXE-A"].yes_bid == D("0.40")  # corrected
        assert manager.cache["KXE-A"].direction == -1
        await manager.queue.close(within=1)
    written = [t for b in writer.batches for t in b]
    assert written.count("KXE-A@0.45") == 2
    assert written[-2:] == ["KXE-A@0.40", "KXE-B@0.60"]


async def test_only_stale_markets_are_polled_while_the_stream_is_up() -> None:
    clock = FakeClock()
    seen: list[str | None] = []
    transport = rest({"KXE-A": "0.40", "KXE-B": "0.60"})

    def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/markets"):
            seen.append(request.url.params.get("tickers"))
        return transport.handle_request(request)

    async with fake_client(httpx.MockTransport(spy), clock) as client:
        manager = MarketDataManager(client, clock=clock, stale_after=10)
        await manager.poll(full=True)
        await manager._on_stream_event(ConnectionChange(StreamState.CONNECTED, "t", clock.now()))
        await manager.poll(full=False)  # nothing stale: no request
        clock.advance(11)
        await manager._on_stream_event(
            ticker_update("KXE-A", "0.41", venue=None, received=clock.now())
        )
        await manager.poll(full=False)
    assert seen == [None, "KXE-B"]
    assert manager.stats.polls == 2


async def test_updates_sharing_a_venue_second_get_distinct_ordered_starts() -> None:
    clock, writer = FakeClock(), Writer()
    async with fake_client(rest({"KXE-A": "0.40"}), clock) as client:
        manager = MarketDataManager(client, writer=writer, clock=clock)
        assert manager.queue is not None
        manager.queue.start()
        await manager.poll(full=True)  # observed at clock.now(), to the microsecond
        polled = manager._base["KXE-A"].observed_at
        second = polled.replace(microsecond=0)  # the venue's `ts`: whole seconds, earlier
        for bid in ("0.41", "0.42", "0.43"):
            await manager._on_stream_event(
                ticker_update("KXE-A", bid, venue=second, received=clock.now())
            )
        await manager.queue.close(within=1)
    starts = [manager._base["KXE-A"].observed_at]
    assert starts[0] == polled + 3 * dt.timedelta(microseconds=1)
    assert [t for b in writer.batches for t in b] == [
        "KXE-A@0.40",
        "KXE-A@0.41",
        "KXE-A@0.42",
        "KXE-A@0.43",
    ]


async def test_a_poll_answer_older_than_a_stream_update_is_not_applied() -> None:
    clock = FakeClock()
    async with fake_client(rest({"KXE-A": "0.40"}), clock) as client:
        manager = MarketDataManager(client, clock=clock)
        await manager.poll(full=True)
        stale_answer = manager._base["KXE-A"]
        manager._poll_started = clock.monotonic()  # a poll's request goes out...
        clock.advance(1)
        now = clock.now()  # ...and the stream speaks before its answer is applied
        await manager._on_stream_event(ticker_update("KXE-A", "0.47", venue=None, received=now))
        await manager._accept(stale_answer, "poll")
    assert manager.cache["KXE-A"].yes_bid == D("0.47")
    assert manager.stats.superseded_polls == 1
