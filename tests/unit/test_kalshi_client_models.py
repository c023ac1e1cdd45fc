"""kalshi_models: current fixed-point shapes, legacy cent fallbacks, ParseError naming fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import (
    decode_json,
    parse_balance,
    parse_fill,
    parse_market,
    parse_order,
    parse_orderbook,
    parse_page,
    parse_settlement,
    parse_trade,
)

pytestmark = pytest.mark.module("kalshi_client")

CURRENT_MARKET = """{
  "ticker": "KXEXAMPLE-26OCT05-T50", "event_ticker": "KXEXAMPLE-26OCT05", "market_type": "binary",
  "yes_sub_title": "Above 50", "no_sub_title": "50 or below",
  "created_time": "2026-09-30T14:00:00Z", "updated_time": "2026-09-30T14:00:00Z",
  "open_time": "2026-10-01T14:00:00Z", "close_time": "2026-10-05T20:00:00Z",
  "latest_expiration_time": "2026-10-12T20:00:00Z", "status": "active",
  "yes_bid_dollars": "0.4200", "yes_bid_size_fp": "13.00", "yes_ask_dollars": "0.4400",
  "yes_ask_size_fp": "17.00", "no_bid_dollars": "0.5600", "no_ask_dollars": "0.5800",
  "last_price_dollars": "0.4300", "volume_fp": "12500.00", "volume_24h_fp": "800.00",
  "open_interest_fp": "5100.00", "notional_value_dollars": "1.0000",
  "result": "", "can_close_early": true, "settlement_value_dollars": null,
  "strike_type": "greater", "floor_strike": 50.5, "price_level_structure": "linear_cent"
}"""

LEGACY_MARKET: dict[str, Any] = {
    "ticker": "OLD-1",
    "event_ticker": "OLD",
    "status": "active",
    "yes_bid": 42,
    "yes_ask": 44,
    "no_bid": 56,
    "no_ask": 58,
    "last_price": 43,
    "volume": 12500,
    "open_interest": 5100,
    "notional_value": 100,
}


def test_current_market_parses_to_decimal_dollars() -> None:
    market = parse_market(decode_json(CURRENT_MARKET))
    assert market.yes_bid == Decimal("0.4200")
    assert str(market.yes_ask) == "0.4400"  # exact string round trip
    assert market.volume == Decimal("12500.00")
    assert market.floor_strike == Decimal("50.5")
    assert isinstance(market.floor_strike, Decimal)
    assert market.close_time == dt.datetime(2026, 10, 5, 20, tzinfo=dt.UTC)
    assert market.settlement_value is None
    assert market.can_close_early is True


def test_legacy_cents_fall_back_to_dollars() -> None:
    market = parse_market(LEGACY_MARKET)
    # Every legacy field, each with a distinct value, so reading the wrong one shows.
    assert market.yes_bid == Decimal("0.42")
    assert market.yes_ask == Decimal("0.44")
    assert market.no_bid == Decimal("0.56")
    assert market.no_ask == Decimal("0.58")
    assert market.last_price == Decimal("0.43")
    assert market.volume == Decimal(12500)
    assert market.open_interest == Decimal(5100)
    assert market.notional_value == Decimal("1.00")


def test_current_field_wins_over_legacy_when_both_present() -> None:
    market = parse_market({**LEGACY_MARKET, "yes_bid_dollars": "0.4150"})
    assert market.yes_bid == Decimal("0.4150")


def test_missing_no_side_is_derived_by_reciprocity() -> None:
    market = parse_market({k: v for k, v in LEGACY_MARKET.items() if k not in ("no_bid", "no_ask")})
    assert market.no_bid == Decimal(1) - market.yes_ask
    assert market.no_ask == Decimal(1) - market.yes_bid


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ticker": None}, "ticker"),
        ({"yes_bid_dollars": "abc"}, "yes_bid_dollars"),
        ({"yes_bid_dollars": "1.5000"}, "yes_bid_dollars"),
        ({"yes_bid_dollars": "0.42001"}, "yes_bid_dollars"),
        ({"yes_bid_dollars": 0.42}, "yes_bid_dollars"),
        ({"yes_bid_dollars": True}, "yes_bid_dollars"),
        ({"volume_fp": "NaN"}, "volume_fp"),
        ({"volume_fp": "-1.00"}, "volume_fp"),
        ({"close_time": "2026-10-05T20:00:00"}, "close_time"),
        ({"close_time": "yesterday"}, "close_time"),
        ({"status": 3}, "status"),
    ],
)
def test_malformed_market_names_the_field(change: dict[str, Any], field: str) -> None:
    body = {**decode_json(CURRENT_MARKET), **change}
    with pytest.raises(ParseError) as caught:
        parse_market(body)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_not_an_object_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a JSON object"):
        parse_market(["a"])


def test_page_keeps_good_records_and_counts_bad_ones() -> None:
    body = {"markets": [LEGACY_MARKET, {"ticker": "X"}, LEGACY_MARKET], "cursor": "next"}
    page = parse_page(body, "markets", parse_market, record="Market")
    assert len(page.items) == 2
    assert [(e.index, e.field) for e in page.errors] == [(1, "event_ticker")]
    assert page.cursor == "next"


@pytest.mark.parametrize("cursor", ["", None])
def test_empty_or_null_cursor_ends_pagination(cursor: str | None) -> None:
    page = parse_page({"markets": [], "cursor": cursor}, "markets", parse_market, record="Market")
    assert page.cursor is None


def test_orderbook_current_and_legacy_sorted_best_last() -> None:
    current = {
        "orderbook_fp": {
            "yes_dollars": [["0.4200", "13.00"], ["0.0100", "200.00"], ["0.4100", "10.00"]],
            "no_dollars": [["0.5600", "17.00"], ["0.4400", "29.00"]],
        }
    }
    book = parse_orderbook(current, "T")
    assert [lvl.price for lvl in book.yes] == [
        Decimal("0.0100"),
        Decimal("0.4100"),
        Decimal("0.4200"),
    ]
    assert book.best_yes_bid == Decimal("0.4200")
    assert book.best_yes_ask == Decimal("0.4400")
    legacy = parse_orderbook({"orderbook": {"yes": [[42, 13]], "no": None}}, "T")
    assert legacy.yes[0].price == Decimal("0.42")
    assert legacy.yes[0].count == Decimal(13)
    assert legacy.no == ()
    with pytest.raises(ParseError, match=r"yes_dollars\[0\]"):
        parse_orderbook({"orderbook_fp": {"yes_dollars": [["0.42"]]}}, "T")


def test_fill_trade_order_settlement_legacy_fallbacks() -> None:
    fill = parse_fill(
        {"trade_id": "f1", "order_id": "o1", "market_ticker": "T", "count": 3, "yes_price": 40,
         "no_price": 60, "ts": 1790000000}
    )  # fmt: skip
    assert (fill.fill_id, fill.ticker, fill.count, fill.yes_price) == (
        "f1",
        "T",
        Decimal(3),
        Decimal("0.40"),
    )
    assert fill.created_time == dt.datetime.fromtimestamp(1790000000, dt.UTC)
    trade = parse_trade(
        {"trade_id": "t", "ticker": "T", "count_fp": "1.50", "yes_price_dollars": "0.3000",
         "no_price_dollars": "0.7000", "taker_side": "yes", "created_time": "2026-10-02T15:04:05Z"}
    )  # fmt: skip
    assert trade.count == Decimal("1.50")
    assert trade.taker_outcome_side == "yes"
    order = parse_order(
        {"order_id": "o", "ticker": "T", "status": "resting", "yes_price": 40, "no_price": 60,
         "fill_count": 0, "remaining_count": 5, "taker_fees": 7}
    )  # fmt: skip
    assert order.remaining_count == Decimal(5)
    assert order.taker_fees == Decimal("0.07")
    settlement = parse_settlement(
        {"ticker": "T", "market_result": "yes", "yes_count_fp": "10.00", "no_count_fp": "0.00",
         "yes_total_cost_dollars": "4.3000", "no_total_cost_dollars": "0.0000",
         "revenue": 1000, "value": 100, "fee_cost": "0.070000",
         "settled_time": "2026-10-06T00:00:00Z"}
    )  # fmt: skip
    assert settlement.revenue == Decimal("10.00")  # revenue is integer cents
    assert settlement.value == Decimal("1.00")
    assert settlement.fee_cost == Decimal("0.070000")


def test_balance_requires_a_balance() -> None:
    with pytest.raises(ParseError) as caught:
        parse_balance({"portfolio_value": 3})
    assert caught.value.field == "balance_dollars"


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"outcome_side": "no", "side": "yes", "action": "buy"}, "no"),
        ({"book_side": "ask"}, "no"),
        ({"book_side": "bid"}, "yes"),
        ({"side": "yes", "action": "sell"}, "no"),
        ({"side": "no", "action": "sell"}, "yes"),
        ({"side": "no", "action": "buy"}, "no"),
        ({}, None),
    ],
)
def test_fill_outcome_side_follows_the_venue_semantics(
    fields: dict[str, str], outcome: str | None
) -> None:
    base = {"fill_id": "f", "order_id": "o", "ticker": "T", "count_fp": "1.00",
            "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000",
            "created_time": "2026-10-02T15:04:05Z"}  # fmt: skip
    assert parse_fill({**base, **fields}).outcome_side == outcome


def test_fill_without_any_timestamp_is_malformed() -> None:
    with pytest.raises(ParseError) as caught:
        parse_fill({"fill_id": "f", "order_id": "o", "ticker": "T", "count_fp": "1.00",
                    "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000"})  # fmt: skip
    assert caught.value.field == "created_time"
