"""Kalshi series and position parsers, field by field, current and legacy (cents) shapes, and
a positions page that keeps good records and reports bad ones. Until now only the property
and integration tests ran these parsers; written for the mutants `make mutation
MODULE=kalshi_models` reported without a unit test (names in the commit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import (
    EventPosition,
    MarketPosition,
    Series,
    parse_event_position,
    parse_market_position,
    parse_positions_page,
    parse_series,
)

pytestmark = pytest.mark.module("kalshi_client")

MARKET_POSITION = {
    "ticker": "KXA-1",
    "position_fp": "-3.00",
    "total_traded_dollars": "12.500000",
    "market_exposure_dollars": "1.25",
    "realized_pnl_dollars": "-0.50",
    "fees_paid_dollars": "0.07",
    "last_updated_ts": "2026-11-01T12:00:00Z",
}
EVENT_POSITION = {
    "event_ticker": "KXA",
    "total_cost_dollars": "4.00",
    "total_cost_shares_fp": "8.00",
    "event_exposure_dollars": "3.50",
    "realized_pnl_dollars": "0.25",
    "fees_paid_dollars": "0.02",
}


def test_series_every_field() -> None:
    assert parse_series(
        {
            "ticker": "KX",
            "title": "Games",
            "frequency": "daily",
            "category": "Sports",
            "tags": ["nfl", "football"],
            "fee_type": "quadratic",
            "fee_multiplier": 1,
        }
    ) == Series("KX", "Games", "daily", "Sports", ("nfl", "football"), "quadratic", Decimal(1))
    assert parse_series({"ticker": "KX", "title": "G"}) == Series(
        "KX", "G", None, None, (), None, None
    )


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"ticker": "KX", "title": "G", "tags": "nfl"}, "tags", "is not a list of strings"),
        ({"ticker": "KX", "title": "G", "tags": ["nfl", 3]}, "tags", "is not a list of strings"),
        ({"title": "G"}, "ticker", "is missing"),
        ({"ticker": "KX"}, "title", "is missing"),
        (
            {"ticker": "KX", "title": "G", "fee_multiplier": "1"},
            "fee_multiplier",
            "is not a number",
        ),
    ],
)
def test_series_errors(data: dict[str, object], field: str, problem: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_series(data)
    assert (info.value.record, info.value.field, info.value.problem) == ("Series", field, problem)


def test_market_position_current_and_legacy() -> None:
    assert parse_market_position(MARKET_POSITION) == MarketPosition(
        ticker="KXA-1",
        position=Decimal(-3),
        total_traded=Decimal("12.5"),
        market_exposure=Decimal("1.25"),
        realized_pnl=Decimal("-0.5"),
        fees_paid=Decimal("0.07"),
        last_updated_ts=dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC),
    )
    legacy = parse_market_position(
        {
            "ticker": "KXA-1",
            "position": 4,
            "total_traded": 1250,
            "market_exposure": 125,
            "realized_pnl": -50,
            "fees_paid": 7,
        }
    )
    assert (legacy.position, legacy.total_traded, legacy.market_exposure) == (
        Decimal(4),
        Decimal("12.50"),
        Decimal("1.25"),
    )
    assert (legacy.realized_pnl, legacy.fees_paid, legacy.last_updated_ts) == (
        Decimal("-0.50"),
        Decimal("0.07"),
        None,
    )


@pytest.mark.parametrize(
    "missing",
    [
        "ticker",
        "position_fp",
        "total_traded_dollars",
        "market_exposure_dollars",
        "realized_pnl_dollars",
        "fees_paid_dollars",
    ],
)
def test_market_position_names_a_missing_field(missing: str) -> None:
    data = {k: v for k, v in MARKET_POSITION.items() if k != missing}
    with pytest.raises(ParseError) as info:
        parse_market_position(data)
    assert (info.value.record, info.value.field, info.value.problem) == (
        "MarketPosition",
        missing,
        "is missing",
    )


def test_event_position_current_and_legacy() -> None:
    assert parse_event_position(EVENT_POSITION) == EventPosition(
        event_ticker="KXA",
        total_cost=Decimal(4),
        total_cost_shares=Decimal(8),
        event_exposure=Decimal("3.5"),
        realized_pnl=Decimal("0.25"),
        fees_paid=Decimal("0.02"),
    )
    legacy = parse_event_position(
        {
            "event_ticker": "KXA",
            "total_cost": 400,
            "total_cost_shares": 8,
            "event_exposure": 350,
            "realized_pnl": 25,
            "fees_paid": 2,
        }
    )
    assert legacy == EventPosition(
        "KXA", Decimal("4.00"), Decimal(8), Decimal("3.50"), Decimal("0.25"), Decimal("0.02")
    )
    shares_unknown = {k: v for k, v in EVENT_POSITION.items() if k != "total_cost_shares_fp"}
    assert parse_event_position(shares_unknown).total_cost_shares is None


@pytest.mark.parametrize(
    "missing",
    [
        "event_ticker",
        "total_cost_dollars",
        "event_exposure_dollars",
        "realized_pnl_dollars",
        "fees_paid_dollars",
    ],
)
def test_event_position_names_a_missing_field(missing: str) -> None:
    data = {k: v for k, v in EVENT_POSITION.items() if k != missing}
    with pytest.raises(ParseError) as info:
        parse_event_position(data)
    assert (info.value.record, info.value.field, info.value.problem) == (
        "EventPosition",
        missing,
        "is missing",
    )


def test_positions_page_keeps_good_records_and_reports_bad_ones() -> None:
    page = parse_positions_page(
        {
            "market_positions": [MARKET_POSITION, {"ticker": "BAD"}],
            "event_positions": [{"event_ticker": "E"}, EVENT_POSITION],
            "cursor": "next-page",
        }
    )
    assert [p.ticker for p in page.market_positions] == ["KXA-1"]
    assert [p.event_ticker for p in page.event_positions] == ["KXA"]
    assert [(e.record, e.index, e.field) for e in page.errors] == [
        ("MarketPosition", 1, "position_fp"),
        ("EventPosition", 0, "total_cost_dollars"),
    ]
    assert page.cursor == "next-page"
    empty = parse_positions_page({"market_positions": [], "event_positions": []})
    assert (empty.market_positions, empty.event_positions, empty.errors, empty.cursor) == (
        (),
        (),
        (),
        None,
    )
