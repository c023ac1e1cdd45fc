"""KalshiWebSocket routing without a network (the scripted in-memory connection of
test_kalshi_websocket_client.py): every data type reaches its parser with the message and
the injected time, messages for unknown or non-integer sids are counted as stale, unknown
types as unknown, errors outside a command are counted and logged, each seq gap is counted,
logged and resynced, and a server without get_snapshot gets the channel resubscribed.
Written to kill the mutants `make mutation MODULE=kalshi_websocket` found surviving (names
in the commit that added this file)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.kalshi_stream_models import (
    FillEvent,
    LifecycleEvent,
    StreamEvent,
    TickerUpdate,
    TradeEvent,
)
from precog.schedulers.kalshi_websocket import KalshiWebSocket
from precog.utils.clock import FakeClock
from tests.plugins.waiting import eventually_async
from tests.unit.test_kalshi_websocket_client import (
    URL,
    CountingSigner,
    FakeConnection,
    book_server,
    delta,
)

pytestmark = pytest.mark.module("kalshi_websocket")

SIDS = {"ticker": 11, "trade": 12, "market_lifecycle_v2": 13, "fill": 14, "orderbook_delta": 1}


def channel_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """Acknowledges every channel of a subscribe with its sid from SIDS."""
    if command["cmd"] == "subscribe":
        for channel in command["params"]["channels"]:
            conn.push(
                {
                    "id": command["id"],
                    "type": "subscribed",
                    "msg": {"channel": channel, "sid": SIDS[channel]},
                }
            )


async def test_every_data_type_reaches_its_parser_with_the_injected_time() -> None:
    conn = FakeConnection(channel_server)
    clock = FakeClock()
    events: list[StreamEvent] = []

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector, clock=clock) as ws:
        ws.add_callback(events.append)
        await ws.wait_connected()
        await ws.subscribe(["ticker", "trade", "market_lifecycle_v2", "fill"], ["KXA-1"])
        conn.push(
            {
                "type": "ticker",
                "sid": 11,
                "msg": {"market_ticker": "KXA-1", "yes_bid_dollars": "0.4500", "ts": 1790000000},
            }
        )
        conn.push(
            {
                "type": "trade",
                "sid": 12,
                "msg": {
                    "market_ticker": "KXA-1",
                    "yes_price_dollars": "0.4700",
                    "count_fp": "3.00",
                    "taker_side": "yes",
                    "ts": 1790000001,
                },
            }
        )
        conn.push(
            {
                "type": "market_lifecycle_v2",
                "sid": 13,
                "msg": {"market_ticker": "KXA-1", "event_type": "closed"},
            }
        )
        conn.push(
            {
                "type": "fill",
                "sid": 14,
                "msg": {
                    "trade_id": "t1",
                    "order_id": "o1",
                    "market_ticker": "KXA-1",
                    "side": "yes",
                    "action": "buy",
                    "yes_price_dollars": "0.4700",
                    "count_fp": "2.00",
                    "is_taker": True,
                    "ts": 1790000002,
                },
            }
        )
        await eventually_async(lambda: ws.stats.messages == 4)
        assert ws.stats.last_message_at == clock.now()
    data = [
        e for e in events if isinstance(e, TickerUpdate | TradeEvent | LifecycleEvent | FillEvent)
    ]
    assert [type(e) for e in data] == [TickerUpdate, TradeEvent, LifecycleEvent, FillEvent]
    assert all(e.market_ticker == "KXA-1" for e in data)
    assert all(e.received_at == clock.now() for e in data)
    ticker = data[0]
    assert isinstance(ticker, TickerUpdate)
    assert ticker.yes_bid == Decimal("0.45")


async def test_stale_unknown_and_error_messages_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = FakeConnection(channel_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector) as ws:
        await ws.wait_connected()
        await ws.subscribe(["ticker"], ["KXA-1"])
        with caplog.at_level(logging.WARNING, logger="precog.schedulers.kalshi_websocket"):
            conn.push({"type": "ticker", "msg": {"market_ticker": "X"}})  # no sid
            conn.push({"type": "ticker", "sid": "11", "msg": {"market_ticker": "X"}})  # not int
            conn.push({"type": "brand_new", "sid": 11, "msg": {}})
            conn.push({"type": "brand_new", "msg": {}})
            conn.push({"type": "error", "msg": {"code": 8, "msg": "Unknown channel name"}})
            await eventually_async(lambda: ws.stats.server_errors == 1)
        assert ws.stats.stale_messages == 2
        assert ws.stats.unknown_messages == 2
        assert ws.stats.messages == 0
    assert "Kalshi WebSocket error 8: Unknown channel name" in [
        r.getMessage() for r in caplog.records
    ]


async def test_each_gap_is_counted_logged_and_resynced(caplog: pytest.LogCaptureFixture) -> None:
    conn = FakeConnection(book_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        book = await eventually_async(lambda: ws.book("KXA-1"))
        with caplog.at_level(logging.WARNING, logger="precog.schedulers.kalshi_websocket"):
            conn.push(delta(3, "0.4100", "5.00"))  # seq 2 lost
            await eventually_async(lambda: ws.stats.resyncs == 1 and not book.stale)
            conn.push(delta(13, "0.4200", "1.00"))  # after the resync's seq 11, 12 is lost
            await eventually_async(lambda: ws.stats.resyncs == 2)
        assert ws.stats.gaps == 2
    gaps = [r.getMessage() for r in caplog.records if "seq gap" in r.getMessage()]
    assert gaps == [
        "Kalshi WebSocket seq gap on sid 1: 1 -> 3; resync",
        "Kalshi WebSocket seq gap on sid 1: 11 -> 13; resync",
    ]


def no_snapshot_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """Like book_server, but get_snapshot is refused and a resubscribe gets sid 2."""
    if command["cmd"] == "update_subscription":
        conn.push(
            {"id": command["id"], "type": "error", "msg": {"code": 12, "msg": "not supported"}}
        )
    elif command["cmd"] == "subscribe" and any(c["cmd"] == "unsubscribe" for c in conn.commands):
        conn.push(
            {
                "id": command["id"],
                "type": "subscribed",
                "msg": {"channel": "orderbook_delta", "sid": 2},
            }
        )
        conn.push(
            {
                "type": "orderbook_snapshot",
                "sid": 2,
                "seq": 1,
                "msg": {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.4400", "2.00"]]},
            }
        )
    elif command["cmd"] != "unsubscribe":
        book_server(conn, command)


async def test_without_get_snapshot_the_channel_is_resubscribed() -> None:
    conn = FakeConnection(no_snapshot_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector) as ws:
        await ws.wait_connected()
        sub = await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        book = await eventually_async(lambda: ws.book("KXA-1"))
        conn.push(delta(3, "0.4100", "5.00"))  # seq 2 lost
        await eventually_async(lambda: sub.sids == {"orderbook_delta": 2})
        await eventually_async(lambda: book.levels("yes") == [(Decimal("0.44"), Decimal(2))])
        assert not book.stale
        commands = [(c["cmd"], c["params"]) for c in conn.commands]
        assert commands[1][0] == "update_subscription"
        assert commands[2] == ("unsubscribe", {"sids": [1]})
        assert commands[3][0] == "subscribe"
        assert commands[3][1]["channels"] == ["orderbook_delta"]
        assert commands[3][1]["market_tickers"] == ["KXA-1"]
