"""parse_market, every field: a current-era market and a legacy (cents) market in which every
field has a distinct value, so that a field read from the wrong key, or not at all, shows.
Written for the parse_market mutants `make mutation MODULE=kalshi_models` found surviving."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.kalshi_models import parse_market

pytestmark = pytest.mark.module("kalshi_client")


def _t(day: int) -> tuple[str, dt.datetime]:
    return f"2026-11-{day:02d}T12:00:00Z", dt.datetime(2026, 11, day, 12, tzinfo=dt.UTC)


TIMES = {
    name: _t(day)
    for day, name in enumerate(
        (
            "settlement_ts",
            "created_time",
            "updated_time",
            "open_time",
            "close_time",
            "expected_expiration_time",
            "latest_expiration_time",
        ),
        start=1,
    )
}
COMMON: dict[str, Any] = {
    "ticker": "KXA-1",
    "event_ticker": "KXA",
    "status": "active",
    "market_type": "binary",
    "title": "Title",
    "subtitle": "Sub",
    "yes_sub_title": "Yes side",
    "no_sub_title": "No side",
    "result": "yes",
    "can_close_early": True,
    "strike_type": "greater",
    "floor_strike": 70,
    "cap_strike": Decimal("80.5"),
    "price_level_structure": "linear_cent",
    **{name: text for name, (text, _) in TIMES.items()},
}
EXPECTED_COMMON: dict[str, Any] = {
    **{k: v for k, v in COMMON.items() if k not in TIMES and k not in {"floor_strike"}},
    "floor_strike": Decimal(70),
    **{name: when for name, (_, when) in TIMES.items()},
}


def test_current_market_every_field() -> None:
    market = parse_market(
        {
            **COMMON,
            "yes_bid_dollars": "0.4100",
            "yes_ask_dollars": "0.4300",
            "no_bid_dollars": "0.5600",
            "no_ask_dollars": "0.5800",
            "last_price_dollars": "0.4200",
            "yes_bid_size_fp": "11.00",
            "yes_ask_size_fp": "12.00",
            "volume_fp": "13.00",
            "volume_24h_fp": "14.00",
            "open_interest_fp": "15.00",
            "notional_value_dollars": "1.000000",
            "previous_yes_bid_dollars": "0.3100",
            "previous_yes_ask_dollars": "0.3300",
            "previous_price_dollars": "0.3200",
            "settlement_value_dollars": "0.990000",
        }
    )
    assert dataclasses.asdict(market) == {
        **EXPECTED_COMMON,
        "yes_bid": Decimal("0.41"),
        "yes_ask": Decimal("0.43"),
        "no_bid": Decimal("0.56"),
        "no_ask": Decimal("0.58"),
        "last_price": Decimal("0.42"),
        "yes_bid_size": Decimal(11),
        "yes_ask_size": Decimal(12),
        "volume": Decimal(13),
        "volume_24h": Decimal(14),
        "open_interest": Decimal(15),
        "notional_value": Decimal(1),
        "previous_yes_bid": Decimal("0.31"),
        "previous_yes_ask": Decimal("0.33"),
        "previous_price": Decimal("0.32"),
        "settlement_value": Decimal("0.99"),
    }


def test_legacy_market_every_field_and_derived_no_side() -> None:
    market = parse_market(
        {
            **COMMON,
            "yes_bid": 41,
            "yes_ask": 43,
            "last_price": 42,
            "volume": 13,
            "volume_24h": 14,
            "open_interest": 15,
            "notional_value": 100,
            "previous_yes_bid": 31,
            "previous_yes_ask": 33,
            "previous_price": 32,
            "settlement_value": 99,
        }
    )
    assert dataclasses.asdict(market) == {
        **EXPECTED_COMMON,
        "yes_bid": Decimal("0.41"),
        "yes_ask": Decimal("0.43"),
        "no_bid": Decimal("0.57"),  # 1 - yes_ask
        "no_ask": Decimal("0.59"),  # 1 - yes_bid
        "last_price": Decimal("0.42"),
        "yes_bid_size": None,
        "yes_ask_size": None,
        "volume": Decimal(13),
        "volume_24h": Decimal(14),
        "open_interest": Decimal(15),
        "notional_value": Decimal("1.00"),
        "previous_yes_bid": Decimal("0.31"),
        "previous_yes_ask": Decimal("0.33"),
        "previous_price": Decimal("0.32"),
        "settlement_value": Decimal("0.99"),
    }


def test_a_market_without_optional_fields() -> None:
    market = parse_market(
        {
            "ticker": "KXA-1",
            "event_ticker": "KXA",
            "status": "active",
            "yes_bid_dollars": "0.4100",
            "yes_ask_dollars": "0.4300",
        }
    )
    assert (market.result, market.can_close_early, market.floor_strike) == ("", None, None)
    assert (market.no_bid, market.no_ask) == (Decimal("0.57"), Decimal("0.59"))
