"""Kalshi record parsers, field by field: events with nested markets, the exchange status,
the historical cutoff and REST order book levels, each with every field checked and each
malformed shape naming its exact field and problem. Written to kill the mutants `make
mutation MODULE=kalshi_models` found surviving (names in the commit that added this file)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import (
    OrderbookLevel,
    parse_event,
    parse_exchange_status,
    parse_historical_cutoff,
    parse_orderbook,
)

pytestmark = pytest.mark.module("kalshi_client")

T = "2026-11-01T12:00:00Z"
WHEN = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
MARKET = {
    "ticker": "KXA-1",
    "event_ticker": "KXA",
    "status": "active",
    "yes_bid_dollars": "0.5000",
    "yes_ask_dollars": "0.5100",
}


def _error(parse: Any, data: object, *args: Any) -> tuple[str, str, str]:
    with pytest.raises(ParseError) as info:
        parse(data, *args)
    return info.value.record, info.value.field, info.value.problem


def test_event_every_field() -> None:
    event = parse_event(
        {
            "event_ticker": "KXA",
            "series_ticker": "KX",
            "title": "Who wins",
            "sub_title": "Final",
            "mutually_exclusive": True,
            "category": "Sports",
            "strike_date": T,
            "markets": [MARKET],
        }
    )
    assert (event.event_ticker, event.series_ticker, event.title, event.sub_title) == (
        "KXA",
        "KX",
        "Who wins",
        "Final",
    )
    assert (event.mutually_exclusive, event.category, event.strike_date) == (True, "Sports", WHEN)
    assert [m.ticker for m in event.markets] == ["KXA-1"]


def test_event_optional_fields_absent() -> None:
    event = parse_event({"event_ticker": "KXA", "series_ticker": "KX", "title": "t"})
    assert (event.sub_title, event.mutually_exclusive, event.category) == (None, None, None)
    assert (event.strike_date, event.markets) == (None, ())


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (
            {"event_ticker": "E", "series_ticker": "S", "title": "t", "markets": {}},
            "markets",
            "is not a list",
        ),
        (
            {
                "event_ticker": "E",
                "series_ticker": "S",
                "title": "t",
                "markets": [MARKET, {"event_ticker": "E", "status": "active"}],
            },
            "markets[1].ticker",
            "is missing",
        ),
        ({"series_ticker": "S", "title": "t"}, "event_ticker", "is missing"),
        ({"event_ticker": "E", "title": "t"}, "series_ticker", "is missing"),
        ({"event_ticker": "E", "series_ticker": "S"}, "title", "is missing"),
        (
            {"event_ticker": "E", "series_ticker": "S", "title": "t", "mutually_exclusive": "yes"},
            "mutually_exclusive",
            "is not a boolean",
        ),
        (
            {"event_ticker": "E", "series_ticker": "S", "title": "t", "strike_date": "soon"},
            "strike_date",
            "is not an RFC 3339 date-time: 'soon'",
        ),
    ],
)
def test_event_errors_name_the_field(data: dict[str, Any], field: str, problem: str) -> None:
    assert _error(parse_event, data) == ("Event", field, problem)


def test_exchange_status_every_field() -> None:
    status = parse_exchange_status(
        {"exchange_active": True, "trading_active": False, "exchange_estimated_resume_time": T}
    )
    assert (status.exchange_active, status.trading_active) == (True, False)
    assert status.estimated_resume_time == WHEN
    idle = parse_exchange_status({"exchange_active": False, "trading_active": True})
    assert (idle.exchange_active, idle.trading_active, idle.estimated_resume_time) == (
        False,
        True,
        None,
    )
    assert _error(parse_exchange_status, {"trading_active": True}) == (
        "ExchangeStatus",
        "exchange_active",
        "is missing",
    )
    assert _error(parse_exchange_status, {"exchange_active": True}) == (
        "ExchangeStatus",
        "trading_active",
        "is missing",
    )


def test_historical_cutoff_every_field() -> None:
    cutoff = parse_historical_cutoff(
        {
            "market_settled_ts": "2026-11-01T00:00:00Z",
            "trades_created_ts": "2026-11-02T00:00:00Z",
            "orders_updated_ts": "2026-11-03T00:00:00Z",
        }
    )
    assert [cutoff.market_settled_ts.day, cutoff.trades_created_ts.day] == [1, 2]
    assert cutoff.orders_updated_ts == dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    for missing in ("market_settled_ts", "trades_created_ts", "orders_updated_ts"):
        data = {
            "market_settled_ts": T,
            "trades_created_ts": T,
            "orders_updated_ts": T,
        }
        del data[missing]
        assert _error(parse_historical_cutoff, data) == ("HistoricalCutoff", missing, "is missing")


def test_orderbook_levels_current_and_legacy() -> None:
    current = parse_orderbook(
        {"orderbook_fp": {"yes_dollars": [["0.4200", "3.00"], ["0.4000", "10.00"]]}}, "KXA-1"
    )
    assert current.ticker == "KXA-1"
    assert current.yes == (
        OrderbookLevel(Decimal("0.40"), Decimal(10)),
        OrderbookLevel(Decimal("0.42"), Decimal(3)),
    )  # sorted ascending: best bid last
    assert current.no == ()
    legacy = parse_orderbook({"orderbook": {"no": [[55, 7]]}}, "KXA-1")
    assert legacy.no == (OrderbookLevel(Decimal("0.55"), Decimal(7)),)
    assert legacy.yes == ()


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (
            {"orderbook_fp": {"yes_dollars": "x"}},
            "orderbook_fp.yes_dollars",
            "is not a list of levels",
        ),
        (
            {"orderbook_fp": {"no_dollars": [["0.40"]]}},
            "orderbook_fp.no_dollars[0]",
            "is not a [price, count] pair",
        ),
        (
            {"orderbook_fp": {"yes_dollars": [["0.40", "1.00"], "x"]}},
            "orderbook_fp.yes_dollars[1]",
            "is not a [price, count] pair",
        ),
        (
            {"orderbook_fp": {"yes_dollars": [[None, "1.00"]]}},
            "orderbook_fp.yes_dollars[0]",
            "has a null price or count",
        ),
        (
            {"orderbook_fp": {"yes_dollars": [["0.40", None]]}},
            "orderbook_fp.yes_dollars[0]",
            "has a null price or count",
        ),
        (
            {"orderbook_fp": {"yes_dollars": [["1.40", "1.00"]]}},
            "orderbook_fp.yes_dollars[0]",
            "is outside [0, 1]: 1.40",
        ),
        (
            {"orderbook": {"yes": [["40", 1]]}},
            "orderbook.yes[0]",
            "is not an integer number of cents",
        ),
        ({"orderbook": {"yes": [[40, "1"]]}}, "orderbook.yes[0]", "is not an integer count"),
        ({}, "orderbook_fp", "is missing"),
    ],
)
def test_orderbook_errors_name_the_level(data: dict[str, Any], field: str, problem: str) -> None:
    assert _error(parse_orderbook, data, "KXA-1") == ("Orderbook", field, problem)
