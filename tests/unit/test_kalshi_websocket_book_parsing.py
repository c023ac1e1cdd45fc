"""Order book messages and the local book, exactly: every malformed side names the record,
the field and the problem; legacy sides use the legacy keys and integer counts only; a
non-object delta is a ParseError; empty levels never enter a book; the top of book carries
the market and the venue time; snapshots of markets a subscription does not follow are
counted as stale, not booked. Written to kill the mutants `make mutation
MODULE=kalshi_websocket` found surviving (names in the commit that added this file)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_stream_models import (
    BookSnapshot,
    OrderBook,
    parse_book_delta,
    parse_book_snapshot,
)
from precog.schedulers.kalshi_websocket import KalshiWebSocket
from tests.plugins.waiting import eventually_async
from tests.unit.test_kalshi_websocket_client import URL, CountingSigner, FakeConnection, book_server

pytestmark = pytest.mark.module("kalshi_websocket")

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("msg", "field", "problem"),
    [
        (
            {"market_ticker": "K", "yes_dollars_fp": "0.40"},
            "yes_dollars_fp",
            "is not a list of [price, size] levels",
        ),
        (
            {"market_ticker": "K", "no_dollars_fp": [["0.40"]]},
            "no_dollars_fp[0]",
            "is not a [price, size] pair",
        ),
        (
            {"market_ticker": "K", "yes_dollars_fp": [["0.40", "1.00"], 5]},
            "yes_dollars_fp[1]",
            "is not a [price, size] pair",
        ),
        (
            {"market_ticker": "K", "yes_dollars_fp": [["1.40", "1.00"]]},
            "p",
            "is outside [0, 1]: 1.40",
        ),
        ({"market_ticker": "K", "yes": [[40, Decimal("5.5")]]}, "s", "is not an integer count"),
    ],
)
def test_malformed_sides_name_record_field_and_problem(
    msg: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ParseError) as info:
        parse_book_snapshot(msg, 1, 1)
    assert (info.value.record, info.value.field, info.value.problem) == (
        "orderbook_snapshot",
        field,
        problem,
    )


def test_snapshot_fields_current_and_legacy() -> None:
    current = parse_book_snapshot(
        {"market_ticker": "K", "yes_dollars_fp": [["0.4000", "10.00"]], "ts_ms": 1790000000456},
        7,
        3,
    )
    assert current == BookSnapshot(
        market_ticker="K",
        sid=7,
        seq=3,
        yes=((Decimal("0.40"), Decimal(10)),),
        no=(),
        venue_time=dt.datetime.fromtimestamp(1790000000.456, dt.UTC),
    )
    legacy = parse_book_snapshot(
        {"market_ticker": "K", "yes": [[40, 10]], "no": [[55, 7]]}, 7, None
    )
    assert legacy.yes == ((Decimal("0.40"), Decimal(10)),)
    assert legacy.no == ((Decimal("0.55"), Decimal(7)),)


def test_a_delta_that_is_not_an_object_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as info:
        parse_book_delta(["KXA-1", "yes"], 1, 2)
    assert (info.value.record, info.value.field) == ("orderbook_delta", "<record>")


def test_a_new_book_is_empty_and_stale() -> None:
    book = OrderBook("KXA-1")
    assert book.market_ticker == "KXA-1"
    assert (book.yes, book.no, book.stale) == ({}, {}, True)
    assert book.levels("yes") == []
    assert book.levels("no") == []


def test_empty_levels_never_enter_the_book_and_the_top_names_market_and_time() -> None:
    book = OrderBook("KXA-1")
    book.apply_snapshot(
        BookSnapshot(
            market_ticker="KXA-1",
            sid=1,
            seq=1,
            yes=((Decimal("0.40"), Decimal(0)), (Decimal("0.41"), Decimal(2))),
            no=((Decimal("0.50"), Decimal(0)),),
            venue_time=None,
        )
    )
    assert book.yes == {Decimal("0.41"): Decimal(2)}
    assert book.no == {}
    assert book.stale is False
    top = book.top(snapshot=True, venue_time=NOW, received_at=NOW)
    assert (top.market_ticker, top.venue_time, top.yes_bid, top.no_bid) == (
        "KXA-1",
        NOW,
        Decimal("0.41"),
        None,
    )


async def test_snapshots_of_unfollowed_markets_are_stale_not_booked() -> None:
    conn = FakeConnection(book_server)

    async def connector(*_args: Any) -> Any:
        return conn

    async with KalshiWebSocket(URL, CountingSigner(), connector=connector) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta"], ["KXA-1"])
        await eventually_async(lambda: ws.book("KXA-1"))
        for seq in (2, 3):
            conn.push(
                {
                    "type": "orderbook_snapshot",
                    "sid": 1,
                    "seq": seq,
                    "msg": {"market_ticker": "KXB-2", "yes_dollars_fp": [["0.1000", "1.00"]]},
                }
            )
        await eventually_async(lambda: ws.stats.stale_messages == 2)
        assert ws.book("KXB-2") is None
        assert ws.stats.gaps == 0


def test_a_delta_whose_ticker_is_not_text_is_a_parse_error() -> None:
    msg = {
        "market_ticker": 5,
        "side": "yes",
        "price_dollars": "0.4000",
        "delta_fp": "1.00",
        "ts_ms": 1790000000456,
    }
    with pytest.raises(ParseError) as info:
        parse_book_delta(msg, 1, 2)
    assert (info.value.field, info.value.problem) == ("market_ticker", "is not a string")
