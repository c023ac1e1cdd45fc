"""KalshiWebSocket without a network: wire parsing (current and legacy shapes), the local
order book, URL resolution, argument checks, and the state machine driven through the
transport seam (`connector`) by a scripted in-memory connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_stream_models import (
    BookDelta,
    BookSnapshot,
    BookUpdate,
    ConnectionChange,
    OrderBook,
    StreamEvent,
    parse_book_delta,
    parse_book_snapshot,
    parse_fill_event,
    parse_lifecycle,
    parse_ticker,
    parse_trade_event,
)
from precog.config.environment import KalshiMode
from precog.schedulers.kalshi_websocket import (
    KalshiWebSocket,
    StreamClosedError,
    StreamState,
    kalshi_ws_url,
)
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
URL = "ws://127.0.0.1:9/trade-api/ws/v2"


# ---------------------------------------------------------------------------- parsing
def test_ticker_current_shape() -> None:
    update = parse_ticker(
        {
            "market_ticker": "KXA-1",
            "price_dollars": "0.4800",
            "yes_bid_dollars": "0.4500",
            "yes_ask_dollars": "0.5300",
            "yes_bid_size_fp": "300.00",
            "yes_ask_size_fp": "150.00",
            "volume_fp": "33896.00",
            "open_interest_fp": "20422.00",
            "ts": 1790000000,
            "ts_ms": 1790000000456,
        },
        NOW,
    )
    assert update.yes_bid == Decimal("0.45")
    assert update.yes_ask == Decimal("0.53")
    assert update.no_bid == Decimal("0.47")
    assert update.no_ask == Decimal("0.55")
    assert update.last_price == Decimal("0.48")
    assert update.volume == Decimal("33896")
    assert update.venue_time == dt.datetime.fromtimestamp(1790000000.456, dt.UTC)
    assert update.received_at == NOW


def test_ticker_legacy_cents_and_never_traded() -> None:
    update = parse_ticker(
        {
            "market_ticker": "KXA-1",
            "price": 0,
            "price_dollars": "",
            "yes_bid": 42,
            "yes_ask": 44,
            "volume": 10,
            "ts": 1790000000,
        },
        NOW,
    )
    assert update.yes_bid == Decimal("0.42")
    assert update.yes_ask == Decimal("0.44")
    assert update.last_price is None  # "" means no trade yet, not a price of 0
    assert update.volume == Decimal(10)
    assert update.venue_time == dt.datetime.fromtimestamp(1790000000, dt.UTC)


def test_trade_fill_and_lifecycle_shapes() -> None:
    trade = parse_trade_event(
        {
            "trade_id": "t1",
            "market_ticker": "KXA-1",
            "yes_price": 36,
            "count": 5,
            "taker_side": "no",
            "ts": 1790000000,
        },
        NOW,
    )
    assert (trade.yes_price, trade.no_price, trade.count) == (
        Decimal("0.36"),
        Decimal("0.64"),
        Decimal(5),
    )
    fill = parse_fill_event(
        {
            "trade_id": "t1",
            "order_id": "o1",
            "market_ticker": "KXA-1",
            "side": "yes",
            "action": "buy",
            "yes_price_dollars": "0.7500",
            "count_fp": "10.00",
            "fee_cost": "0.0100",
            "post_position_fp": "-3.00",
            "is_taker": True,
            "ts_ms": 1,
        },
        NOW,
    )
    assert fill.fee_cost == Decimal("0.01")
    assert fill.post_position == Decimal(-3)
    assert fill.is_taker is True
    lifecycle = parse_lifecycle(
        {
            "market_ticker": "KXA-1",
            "event_type": "determined",
            "result": "yes",
            "determination_ts": 1790003600,
            "settlement_value": "1.0000",
        },
        NOW,
    )
    assert lifecycle.settlement_value == Decimal(1)
    assert lifecycle.determination_time == dt.datetime.fromtimestamp(1790003600, dt.UTC)


def test_book_messages_current_legacy_and_bad() -> None:
    snapshot = parse_book_snapshot(
        {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.0800", "300.00"], ["0.2200", "333.00"]]},
        sid=1,
        seq=2,
    )
    assert snapshot.no == ()  # an omitted side has no bids
    assert snapshot.yes[1] == (Decimal("0.22"), Decimal(333))
    legacy = parse_book_snapshot(
        {"market_ticker": "KXA-1", "yes": [[8, 300]], "no": [[54, 20]]}, 1, 1
    )
    assert legacy.no == ((Decimal("0.54"), Decimal(20)),)
    delta = parse_book_delta(
        {
            "market_ticker": "KXA-1",
            "price": 22,
            "delta": -54,
            "side": "yes",
            "ts": "2026-09-21T14:13:20Z",
        },
        1,
        3,
    )
    assert delta.delta == Decimal(-54)
    assert delta.venue_time == dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC)
    with pytest.raises(ParseError, match="side"):
        parse_book_delta(
            {"market_ticker": "K", "price_dollars": "0.1", "delta_fp": "1", "side": "up"}, 1, 1
        )
    with pytest.raises(ParseError, match="yes_dollars_fp"):
        parse_book_snapshot({"market_ticker": "K", "yes_dollars_fp": [["0.1"]]}, 1, 1)
    with pytest.raises(ParseError):
        parse_ticker({"market_ticker": "K", "yes_bid_dollars": 0.5}, NOW)  # a float: refused


def test_order_book_applies_deltas_and_derives_asks() -> None:
    book = OrderBook("KXA-1")
    assert book.stale
    book.apply_snapshot(
        BookSnapshot(
            "KXA-1",
            1,
            1,
            ((Decimal("0.40"), Decimal(10)), (Decimal("0.41"), Decimal(5))),
            ((Decimal("0.55"), Decimal(7)),),
            None,
        )
    )
    book.apply_delta(BookDelta("KXA-1", 1, 2, "yes", Decimal("0.41"), Decimal(-5), None))
    book.apply_delta(BookDelta("KXA-1", 1, 3, "no", Decimal("0.57"), Decimal(3), None))
    top = book.top(snapshot=False, venue_time=None, received_at=NOW)
    assert (top.yes_bid, top.yes_bid_size) == (Decimal("0.40"), Decimal(10))  # 0.41 emptied
    assert (top.no_bid, top.no_bid_size) == (Decimal("0.57"), Decimal(3))
    assert top.yes_ask == Decimal("0.43")
    assert top.no_ask == Decimal("0.60")
    assert top.yes_ask_size == Decimal(3)
    assert book.levels("yes") == [(Decimal("0.40"), Decimal(10))]


# ---------------------------------------------------------------------------- URL and arguments
def test_ws_url_resolution() -> None:
    assert kalshi_ws_url(KalshiMode.LIVE, {"KALSHI_WS_URL": "ws://x/y"}) == "ws://x/y"
    env = {"KALSHI_API_BASE_URL": "http://127.0.0.1:8123/trade-api/v2"}
    assert kalshi_ws_url(KalshiMode.SANDBOX, env) == "ws://127.0.0.1:8123/trade-api/ws/v2"
    assert kalshi_ws_url(KalshiMode.DEMO, {}) == (
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"
    )
    assert kalshi_ws_url(KalshiMode.SANDBOX, {}) is None
    assert kalshi_ws_url(KalshiMode.SANDBOX, {}, "https://h/trade-api/v2") == (
        "wss://h/trade-api/ws/v2"
    )


class CountingSigner:
    def __init__(self) -> None:
        self.signed = 0

    def websocket_headers(self) -> dict[str, str]:
        self.signed += 1
        return {"KALSHI-ACCESS-KEY": "k", "KALSHI-ACCESS-TIMESTAMP": str(self.signed)}


async def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="ws"):
        KalshiWebSocket("http://h/x", CountingSigner())
    ws = KalshiWebSocket(URL, CountingSigner())
    with pytest.raises(ValueError, match="unknown channel"):
        await ws.subscribe(["tickers"])
    with pytest.raises(ValueError, match="needs market_tickers"):
        await ws.subscribe(["orderbook_delta"])
    sub = await ws.subscribe(["ticker"])  # not connected: registered for the first connect
    with pytest.raises(ValueError, match="every market"):
        await ws.update_subscription(sub, add_markets=["X"])
    await ws.close()
    with pytest.raises(StreamClosedError):
        await ws.subscribe(["ticker"], ["X"])
    with pytest.raises(StreamClosedError):
        await ws.start()


# ---------------------------------------------------------------------------- scripted server
class FakeTransport:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    def abort(self) -> None:
        self.conn.end(1006)


class FakeConnection:
    """An open connection whose server side is `script(conn, command)`."""

    def __init__(self, script: Callable[[FakeConnection, dict[str, Any]], None]) -> None:
        self.script = script
        self.commands: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self.close_code: int | None = None
        self.transport = FakeTransport(self)

    async def send(self, text: str) -> None:
        command = json.loads(text)
        self.commands.append(command)
        self.script(self, command)

    def push(self, body: dict[str, Any] | str) -> None:
        self.incoming.put_nowait(body if isinstance(body, str) else json.dumps(body))

    def end(self, code: int = 1000) -> None:
        if self.close_code is None:
            self.close_code = code
            self.incoming.put_nowait(None)

    def __aiter__(self) -> FakeConnection:
        return self

    async def __anext__(self) -> str:
        item = await self.incoming.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def ping(self) -> asyncio.Future[float]:
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        done.set_result(0.0)
        return done

    async def close(self) -> None:
        self.end()


def book_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """Subscribes with sid 1 and a snapshot; answers get_snapshot with a fresh one."""
    params = command.get("params", {})
    if command["cmd"] == "subscribe":
        conn.push(
            {
                "id": command["id"],
                "type": "subscribed",
                "msg": {"channel": "orderbook_delta", "sid": 1},
            }
        )
        conn.push(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 1,
                "msg": {
                    "market_ticker": "KXA-1",
                    "yes_dollars_fp": [["0.4000", "10.00"]],
                    "no_dollars_fp": [["0.5500", "7.00"]],
                },
            }
        )
    elif command["cmd"] == "update_subscription" and params["action"] == "get_snapshot":
        conn.push(
            {
                "id": command["id"],
                "sid": 1,
                "seq": 10,
                "type": "ok",
                "msg": {"market_tickers": ["KXA-1"]},
            }
        )
        conn.push(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 11,
                "msg": {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.4200", "1.00"]]},
            }
        )


def delta(seq: int, price: str, change: str) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": seq,
        "msg": {
            "market_ticker": "KXA-1",
            "price_dollars": price,
            "delta_fp": change,
            "side": "yes",
        },
    }


async def test_state_machine_backoff_and_resubscribe_after_close() -> None:
    waits: list[float] = []
    connections: list[FakeConnection] = []
    attempts = 0

    async def connector(url: str, headers: dict[str, str], timeout: float, size: int) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise OSError("connection refused")
        connections.append(FakeConnection(book_server))
        return connections[-1]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    signer = CountingSigner()
    states: list[StreamState] = []
    policy = RetryPolicy(base_delay=1.0, max_delay=2.0, rng=random.Random(3))
    ws = KalshiWebSocket(URL, signer, connector=connector, sleep=sleep, backoff=policy)
    ws.add_callback(lambda e: states.append(e.state) if isinstance(e, ConnectionChange) else None)
    sub = await ws.subscribe(["orderbook_delta"], ["KXA-1"])
    async with ws:
        await ws.wait_connected()
        await eventually_async(lambda: sub.sids == {"orderbook_delta": 1})
        assert ws.stats.connect_failures == 3
        assert signer.signed == 4  # signed again on every attempt
        assert len(waits) == 3
        assert all(0.5 <= w <= 2.0 for w in waits)  # jittered, capped
        assert waits[2] >= 1.0  # the ceiling grew to the cap
        connections[0].end(1000)  # a clean close from the server: reconnect anyway
        await eventually_async(lambda: len(connections) == 2 and sub.sids)
        assert len(waits) == 4  # backoff also after the clean close
        assert [c["cmd"] for c in connections[1].commands] == ["subscribe"]  # replayed
        assert ws.stats.reconnects == 1
    assert states[:3] == [StreamState.CONNECTING, StreamState.RECONNECTING, StreamState.CONNECTING]
    assert StreamState.CONNECTED in states
    assert states[-1] is StreamState.CLOSED


async def test_seq_gap_marks_books_stale_and_resyncs() -> None:
    conn = FakeConnection(book_server)
    events: list[StreamEvent] = []

    async def connector(*_args: Any) -> Any:
        return conn

    clock = FakeClock()
    async with KalshiWebSocket(URL, CountingSigner(), connector=connector, clock=clock) as ws:
        ws.add_callback(events.append)
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        conn.push(delta(2, "0.4100", "5.00"))
        book = await eventually_async(lambda: ws.book("KXA-1"))
        await eventually_async(lambda: book.best("yes") == (Decimal("0.41"), Decimal(5)))
        conn.push(delta(4, "0.4100", "-5.00"))  # seq 3 was lost
        await eventually_async(lambda: ws.stats.resyncs == 1)
        assert ws.stats.gaps == 1
        resync = conn.commands[-1]
        assert resync["params"] == {
            "sids": [1],
            "market_tickers": ["KXA-1"],
            "action": "get_snapshot",
        }
        await eventually_async(lambda: not book.stale)
        assert book.levels("yes") == [(Decimal("0.42"), Decimal(1))]
        assert book.levels("no") == []
        conn.push(delta(12, "0.4200", "2.00"))
        await eventually_async(lambda: book.best("yes") == (Decimal("0.42"), Decimal(3)))
        assert ws.stats.gaps == 1
        conn.push("not json at all")
        conn.push({"type": "some_new_type", "sid": 1, "msg": {}})
        conn.push({"type": "ticker", "sid": 99, "msg": {"market_ticker": "X"}})
        await eventually_async(lambda: ws.stats.stale_messages == 1)
        assert ws.stats.decode_errors == 1
        assert ws.stats.unknown_messages == 1
    tops = [e for e in events if isinstance(e, BookUpdate)]
    assert [t.snapshot for t in tops] == [True, False, True, False]
    assert {t.received_at for t in tops} == {clock.now()}  # stamped by the injected clock
    assert clock.sleeps == []  # the idle watchdog runs on real time, not on the fake clock


async def test_a_gap_before_a_snapshot_is_still_a_gap() -> None:
    conn = FakeConnection(book_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        book = await eventually_async(lambda: ws.book("KXA-1"))
        # seq 2 (a delta) is lost; seq 3 is a snapshot: the gap must still be seen.
        conn.push(
            {
                "type": "orderbook_snapshot",
                "sid": 1,
                "seq": 3,
                "msg": {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.3000", "1.00"]]},
            }
        )
        await eventually_async(lambda: ws.stats.gaps == 1)
        assert conn.commands[-1]["params"]["action"] == "get_snapshot"
        await eventually_async(lambda: book.levels("yes") == [(Decimal("0.42"), Decimal(1))])


async def test_event_buffer_is_bounded() -> None:
    conn = FakeConnection(book_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector, event_buffer=5) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        for seq in range(2, 52):
            conn.push(delta(seq, "0.4500", "1.00"))
        await eventually_async(lambda: ws.stats.messages == 51)
        assert ws.stats.dropped_events == ws.stats.events - 5
        received = []
        async for event in ws.events():
            received.append(event)
            if len(received) == 5:
                break
        last = received[-1]
        assert isinstance(last, BookUpdate)
        assert last.yes_bid_size == Decimal(50)  # the newest events were kept
