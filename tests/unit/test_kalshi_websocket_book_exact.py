"""The order book, seq and dispatch paths of KalshiWebSocket, exactly, through the scripted
in-memory connection of test_kalshi_websocket_client.py: the book of a market added to a
subscription is created by its snapshot and named after it; every BookUpdate carries the
levels, the market and the venue time of its message; only integer sids are routed and only
integer seqs are checked; late replies, unknown types and terminal errors are each handled
once; a gap with no market left asks for nothing, and the resync task neither leaves an
exception unretrieved nor complains when cancelled; two refused resyncs resubscribe once.
Legacy book levels name the field at fault, null included; levels below and at one contract
stay on both sides; a delta the hot path refuses is still checked, and a delta keeps its sid
and seq on either path (these last ones were killed only by chance by the property test).
Written to kill the mutants `make mutation MODULE=kalshi_websocket` found surviving (names in
the commit that added this file)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import weakref
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_stream_models import (
    BookDelta,
    BookUpdate,
    OrderBook,
    StreamEvent,
    parse_book_delta,
    parse_book_snapshot,
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
from tests.unit.test_kalshi_websocket_dispatch import no_snapshot_server

pytestmark = pytest.mark.module("kalshi_websocket")

T1 = 1790000000456
T2 = 1790000001789


def at(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def market_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """book_server, plus `ok` to add/delete_markets and a snapshot of each added market."""
    params = command.get("params", {})
    action = params.get("action")
    if command["cmd"] == "update_subscription" and action in ("add_markets", "delete_markets"):
        conn.push({"id": command["id"], "type": "ok", "msg": {"market_tickers": []}})
        if action == "add_markets":
            for ticker in params["market_tickers"]:
                conn.push(
                    {
                        "type": "orderbook_snapshot",
                        "sid": 1,
                        "seq": 2,
                        "msg": {
                            "market_ticker": ticker,
                            "yes_dollars_fp": [["0.3500", "2.00"], ["0.3000", "4.00"]],
                            "no_dollars_fp": [["0.6000", "5.00"]],
                            "ts_ms": T1,
                        },
                    }
                )
    else:
        book_server(conn, command)


def silent_resync_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """book_server that never answers a get_snapshot."""
    if command["cmd"] != "update_subscription":
        book_server(conn, command)


def failing_resync_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """book_server whose socket fails when a get_snapshot is sent."""
    if command["cmd"] == "update_subscription":
        raise OSError("broken pipe")
    book_server(conn, command)


def connect_to(conn: FakeConnection, clock: FakeClock | None = None) -> KalshiWebSocket:
    async def connector(*_args: Any) -> Any:
        return conn

    return KalshiWebSocket(URL, CountingSigner(), connector=connector, clock=clock)


async def followed(ws: KalshiWebSocket, conn: FakeConnection) -> None:
    """Subscribed to KXA-1's book and its snapshot (seq 1) applied."""
    await ws.wait_connected()
    await ws.subscribe(["orderbook_delta"], ["KXA-1"])
    await eventually_async(lambda: (b := ws.book("KXA-1")) is not None and not b.stale)


async def handled(ws: KalshiWebSocket, conn: FakeConnection, *messages: dict[str, Any]) -> None:
    """Push `messages` and wait until the client has handled every one of them."""
    frames = ws.stats.frames + len(messages)
    for message in messages:
        conn.push(message)
    await eventually_async(lambda: ws.stats.frames >= frames)


def book_delta(seq: Any, side: str, price: str, change: str, ts_ms: int) -> dict[str, Any]:
    return {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": seq,
        "msg": {
            "market_ticker": "KXA-1",
            "side": side,
            "price_dollars": price,
            "delta_fp": change,
            "ts_ms": ts_ms,
        },
    }


# ---------------------------------------------------------------------------- books
async def test_the_snapshot_of_an_added_market_creates_its_own_book() -> None:
    conn = FakeConnection(market_server)
    clock = FakeClock()
    events: list[StreamEvent] = []
    async with connect_to(conn, clock) as ws:
        ws.add_callback(events.append)
        await followed(ws, conn)
        frames = ws.stats.frames + 2  # the ok and KXB-2's snapshot
        await ws.update_subscription(ws.subscriptions[0], add_markets=["KXB-2"])
        await eventually_async(lambda: ws.stats.frames >= frames)
        book = ws.book("KXB-2")
        assert book is not None
        assert book.market_ticker == "KXB-2"
        assert not book.stale
        assert book.levels("yes") == [(Decimal("0.30"), Decimal(4)), (Decimal("0.35"), Decimal(2))]
        assert book.levels("no") == [(Decimal("0.60"), Decimal(5))]
        assert ws.stats.decode_errors == 0
    updates = [e for e in events if isinstance(e, BookUpdate) and e.market_ticker == "KXB-2"]
    assert updates == [
        BookUpdate(
            market_ticker="KXB-2",
            yes_bid=Decimal("0.35"),
            yes_bid_size=Decimal(2),
            no_bid=Decimal("0.60"),
            no_bid_size=Decimal(5),
            snapshot=True,
            venue_time=at(T1),
            received_at=clock.now(),
        )
    ]
    assert (updates[0].yes_ask, updates[0].no_ask) == (Decimal("0.40"), Decimal("0.65"))


async def test_each_delta_moves_one_level_and_its_update_carries_the_venue_time() -> None:
    conn = FakeConnection(book_server)  # snapshot: YES 0.40 x 10, NO 0.55 x 7
    clock = FakeClock()
    events: list[StreamEvent] = []
    async with connect_to(conn, clock) as ws:
        await followed(ws, conn)
        ws.add_callback(events.append)
        book = ws.book("KXA-1")
        assert book is not None
        await handled(ws, conn, book_delta(2, "yes", "0.4500", "3.00", T1))
        assert book.levels("yes") == [(Decimal("0.40"), Decimal(10)), (Decimal("0.45"), Decimal(3))]
        await handled(ws, conn, book_delta(3, "no", "0.5500", "-7.00", T2))
        assert book.levels("no") == []  # a level that reaches zero is gone
        await handled(ws, conn, book_delta(4, "yes", "0.4500", "-3.00", T2))
        assert book.levels("yes") == [(Decimal("0.40"), Decimal(10))]
        assert ws.stats.gaps == 0

    def update(yes: tuple[str, int], no: tuple[str, int] | None, ms: int) -> BookUpdate:
        return BookUpdate(
            market_ticker="KXA-1",
            yes_bid=Decimal(yes[0]),
            yes_bid_size=Decimal(yes[1]),
            no_bid=None if no is None else Decimal(no[0]),
            no_bid_size=None if no is None else Decimal(no[1]),
            snapshot=False,
            venue_time=at(ms),
            received_at=clock.now(),
        )

    assert [e for e in events if isinstance(e, BookUpdate)] == [
        update(("0.45", 3), ("0.55", 7), T1),
        update(("0.45", 3), None, T2),
        update(("0.40", 10), None, T2),
    ]


# ---------------------------------------------------------------------------- dispatch
async def test_only_integer_sids_are_routed() -> None:
    conn = FakeConnection(book_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        messages = ws.stats.messages
        bad_sids: list[Any] = ["1", 1.0, [1], {"sid": 1}, None]
        await handled(
            ws, conn, *({**book_delta(2, "yes", "0.4500", "3.00", T1), "sid": s} for s in bad_sids)
        )
        assert ws.stats.stale_messages == len(bad_sids)
        assert (ws.stats.messages, ws.stats.decode_errors) == (messages, 0)
        book = ws.book("KXA-1")
        assert book is not None
        assert book.levels("yes") == [(Decimal("0.40"), Decimal(10))]


async def test_a_seq_that_is_not_an_integer_is_not_checked_and_not_kept() -> None:
    conn = FakeConnection(book_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        await handled(ws, conn, book_delta("2", "yes", "0.4500", "3.00", T1))
        await handled(ws, conn, book_delta(2, "yes", "0.4500", "1.00", T1))  # 1 -> 2: no gap
        assert ws.stats.gaps == 0
        book = ws.book("KXA-1")
        assert book is not None
        assert book.levels("yes") == [(Decimal("0.40"), Decimal(10)), (Decimal("0.45"), Decimal(4))]


async def test_unknown_types_on_a_followed_sid_are_each_counted() -> None:
    conn = FakeConnection(book_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        messages, unknown = ws.stats.messages, ws.stats.unknown_messages
        await handled(ws, conn, *[{"type": "brand_new", "sid": 1, "msg": {}}] * 3)
        assert ws.stats.unknown_messages == unknown + 3
        assert ws.stats.messages == messages


async def test_a_reply_to_no_pending_command_is_an_unknown_message() -> None:
    conn = FakeConnection(book_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        unknown = ws.stats.unknown_messages
        await handled(ws, conn, {"id": 999, "type": "ok", "msg": {}})
        assert ws.stats.unknown_messages == unknown + 1
        assert ws.stats.decode_errors == 0


async def test_a_terminal_error_on_a_followed_sid_resubscribes_its_channel() -> None:
    conn = FakeConnection(book_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        error = {"type": "error", "sid": 1, "msg": {"code": 17, "msg": "Internal error"}}
        await handled(ws, conn, error)
        assert (ws.stats.server_errors, ws.stats.resyncs, ws.stats.decode_errors) == (1, 1, 0)
        await eventually_async(lambda: len(conn.commands) == 2)
        assert conn.commands[1]["cmd"] == "subscribe"
        assert conn.commands[1]["params"] == {
            "channels": ["orderbook_delta"],
            "market_tickers": ["KXA-1"],
        }


# ---------------------------------------------------------------------------- gaps, resync
async def test_a_gap_with_no_market_left_is_counted_but_asks_for_no_snapshot() -> None:
    conn = FakeConnection(market_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        await ws.update_subscription(ws.subscriptions[0], remove_markets=["KXA-1"])
        assert ws.book("KXA-1") is None
        await handled(ws, conn, book_delta(3, "yes", "0.4500", "3.00", T1))
        assert (ws.stats.gaps, ws.stats.resyncs) == (1, 0)
        assert [c["params"]["action"] for c in conn.commands[1:]] == ["delete_markets"]


class LoopWatch:
    """While installed: what reaches the event loop's exception handler, and (weakly) every
    task created."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []
        self.tasks: list[weakref.ref[asyncio.Task[Any]]] = []
        self.loop = asyncio.get_running_loop()
        self.previous = self.loop.get_exception_handler()

    def _task(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        self.tasks.append(weakref.ref(task))
        return task

    def __enter__(self) -> LoopWatch:
        self.loop.set_exception_handler(lambda _loop, context: self.contexts.append(context))
        self.loop.set_task_factory(self._task)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.loop.set_task_factory(None)
        self.loop.set_exception_handler(self.previous)


async def test_a_failed_resync_leaves_no_unretrieved_exception() -> None:
    conn = FakeConnection(failing_resync_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        with LoopWatch() as watch:
            await handled(ws, conn, delta(3, "0.4100", "5.00"))  # seq 2 lost
            assert ws.stats.resyncs == 1
            (resync,) = watch.tasks
            await eventually_async(lambda: (t := resync()) is None or t.done())
            # the failed task's done callbacks run before the reader gets this frame
            await handled(ws, conn, {"type": "brand_new", "sid": 1, "msg": {}})
            gc.collect()  # an unretrieved task exception is reported when the task goes
            assert resync() is None
            assert watch.contexts == []
        assert conn.commands[1]["params"]["action"] == "get_snapshot"


async def test_a_cancelled_resync_is_not_an_error() -> None:
    conn = FakeConnection(silent_resync_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        with LoopWatch() as watch:
            await handled(ws, conn, delta(3, "0.4100", "5.00"))  # seq 2 lost
            await eventually_async(lambda: len(conn.commands) == 2)  # the get_snapshot
            (resync,) = (t() for t in watch.tasks)
            assert resync is not None
            resync.cancel()
            await eventually_async(resync.done)
            assert resync.cancelled()
            # its done callbacks run before the reader gets this frame
            await handled(ws, conn, {"type": "brand_new", "sid": 1, "msg": {}})
            assert watch.contexts == []
            assert ws.stats.decode_errors == 0


async def test_two_refused_resyncs_of_one_sid_resubscribe_it_once() -> None:
    conn = FakeConnection(no_snapshot_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        sub = ws.subscriptions[0]
        conn.push(delta(3, "0.4100", "5.00"))  # seq 2 lost
        conn.push(delta(5, "0.4200", "1.00"))  # seq 4 lost
        await eventually_async(lambda: sub.sids == {"orderbook_delta": 2})
        book = ws.book("KXA-1")
        assert book is not None
        await eventually_async(lambda: not book.stale)
        assert (ws.stats.gaps, ws.stats.resyncs) == (2, 2)
        assert [c["cmd"] for c in conn.commands] == [
            "subscribe",
            "update_subscription",
            "update_subscription",
            "unsubscribe",
            "subscribe",
        ]


def renumbering_server(conn: FakeConnection, command: dict[str, Any]) -> None:
    """book_server that answers get_snapshot by subscribing the channel afresh (sid 7)."""
    if command["cmd"] == "update_subscription":
        conn.push(
            {
                "id": command["id"],
                "type": "subscribed",
                "msg": {"channel": "orderbook_delta", "sid": 7},
            }
        )
        conn.push(
            {
                "type": "orderbook_snapshot",
                "sid": 7,
                "seq": 1,
                "msg": {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.4300", "6.00"]]},
            }
        )
    else:
        book_server(conn, command)


async def test_a_resync_is_a_command_of_its_subscription() -> None:
    conn = FakeConnection(renumbering_server)
    async with connect_to(conn) as ws:
        await followed(ws, conn)
        sub = ws.subscriptions[0]
        frames = ws.stats.frames + 3  # the delta, the subscribed reply and sid 7's snapshot
        conn.push(delta(3, "0.4100", "5.00"))  # seq 2 lost
        await eventually_async(lambda: ws.stats.frames >= frames)
        assert sub.sids == {"orderbook_delta": 7}
        book = ws.book("KXA-1")
        assert book is not None
        assert not book.stale
        assert book.levels("yes") == [(Decimal("0.43"), Decimal(6))]
        assert ws.stats.stale_messages == 0


# ---------------------------------------------------------------------------- levels
@pytest.mark.parametrize(
    ("msg", "field", "problem"),
    [
        ({"yes_dollars_fp": [[None, "1.00"]]}, "p", "is missing"),
        ({"no_dollars_fp": [["0.4000", None]]}, "s", "is missing"),
        ({"yes": [[None, 5]]}, "p", "is not an integer number of cents"),
        ({"no": [["40", 5]]}, "p", "is not an integer number of cents"),
        ({"yes": [[40, None]]}, "s", "is not an integer count"),
        ({"no": [[40, "5.00"]]}, "s", "is not an integer count"),
        ({"yes": [[140, 5]]}, "p", "is outside [0, 1]: 1.40"),
        ({"yes": [[40, -5]]}, "s", "is outside [0, None]: -5"),
    ],
)
def test_a_bad_level_names_its_field_in_both_eras(
    msg: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ParseError) as info:
        parse_book_snapshot({"market_ticker": "K", **msg}, 1, 1)
    assert (info.value.record, info.value.field, info.value.problem) == (
        "orderbook_snapshot",
        field,
        problem,
    )


def test_legacy_levels_keep_their_order_and_values_on_both_sides() -> None:
    snapshot = parse_book_snapshot(
        {"market_ticker": "K", "yes": [[41, 3], [40, 10]], "no": [[55, 7], [1, 0]]}, 1, 1
    )
    assert snapshot.yes == ((Decimal("0.41"), Decimal(3)), (Decimal("0.40"), Decimal(10)))
    assert snapshot.no == ((Decimal("0.55"), Decimal(7)), (Decimal("0.01"), Decimal(0)))


def test_fractional_and_unit_levels_stay_on_both_sides() -> None:
    snapshot = parse_book_snapshot(
        {
            "market_ticker": "K",
            "yes_dollars_fp": [["0.4000", "1.00"], ["0.3900", "0.50"]],
            "no_dollars_fp": [["0.5500", "1.00"], ["0.5400", "0.50"], ["0.5300", "0.00"]],
        },
        1,
        1,
    )
    book = OrderBook("K")
    book.apply_snapshot(snapshot)
    assert book.levels("yes") == [(Decimal("0.39"), Decimal("0.5")), (Decimal("0.40"), Decimal(1))]
    assert book.levels("no") == [(Decimal("0.54"), Decimal("0.5")), (Decimal("0.55"), Decimal(1))]


FAST = {
    "market_ticker": "KXA-1",
    "side": "yes",
    "price_dollars": "0.4000",
    "delta_fp": "1.00",
    "ts_ms": T1,
}


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"side": "maybe"}, "side", "is not yes or no: 'maybe'"),
        ({"price_dollars": "1.5000"}, "price_dollars", "is outside [0, 1]: 1.5000"),
    ],
)
def test_a_delta_the_hot_path_refuses_is_still_checked(
    change: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ParseError) as info:
        parse_book_delta({**FAST, **change}, 1, 2)
    assert (info.value.record, info.value.field, info.value.problem) == (
        "orderbook_delta",
        field,
        problem,
    )


@pytest.mark.parametrize(
    "msg",
    [
        FAST,  # the hot path
        {**FAST, "ts_ms": None, "ts": "2026-09-21T14:13:20.456Z"},  # the general parser
        {"market_ticker": "KXA-1", "side": "yes", "price": 40, "delta": 1, "ts_ms": T1},
    ],
)
def test_a_delta_keeps_its_sid_and_seq_on_either_path(msg: dict[str, Any]) -> None:
    assert parse_book_delta(msg, 7, 3) == BookDelta(
        market_ticker="KXA-1",
        sid=7,
        seq=3,
        side="yes",
        price=Decimal("0.40"),
        delta=Decimal(1),
        venue_time=at(T1),
    )
