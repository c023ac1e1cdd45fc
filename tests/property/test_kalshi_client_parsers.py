"""Properties of kalshi_client: parsers are total on arbitrary JSON (a record or ParseError,
never another exception), prices round-trip exactly, and a token bucket never exceeds its
rate over any window (fake clock)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import (
    decode_json,
    parse_balance,
    parse_event,
    parse_event_position,
    parse_exchange_status,
    parse_fill,
    parse_market,
    parse_market_position,
    parse_order,
    parse_orderbook,
    parse_page,
    parse_positions_page,
    parse_series,
    parse_settlement,
    parse_trade,
)
from precog.api_connectors.rate_limiter import BucketSpec, TokenBucket
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("kalshi_client")

PARSERS: list[Callable[[object], object]] = [
    parse_market,
    parse_trade,
    parse_event,
    parse_series,
    parse_balance,
    parse_market_position,
    parse_event_position,
    parse_fill,
    parse_settlement,
    parse_order,
    parse_exchange_status,
    lambda body: parse_orderbook(body, "T"),
    parse_positions_page,
    lambda body: parse_page(body, "markets", parse_market, record="Market"),
]

MARKET_KEYS = [
    "ticker", "event_ticker", "status", "yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars",
    "yes_bid", "yes_ask", "volume_fp", "volume", "close_time", "floor_strike", "result",
    "can_close_early", "balance", "balance_dollars", "position_fp", "orderbook_fp",
    "yes_dollars", "markets", "cursor", "revenue", "settled_time", "market_result",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=True, allow_infinity=True, places=None)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["0.5600", "10.00", "1.0000", "-0.01", "NaN", "1e5", "2026-10-05T20:00:00Z"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(MARKET_KEYS) | st.text(max_size=6), children, max_size=8)
    ),
    max_leaves=25,
)
# Mostly well-shaped market-like objects with arbitrary values, plus anything at all.
record_like = st.dictionaries(st.sampled_from(MARKET_KEYS), json_values, max_size=16)


@settings(max_examples=400)
@given(body=record_like | json_values, index=st.integers(min_value=0, max_value=len(PARSERS) - 1))
def test_parsers_are_total_on_arbitrary_json(body: Any, index: int) -> None:
    error: ParseError | None = None
    try:
        PARSERS[index](body)
    except ParseError as exc:
        error = exc
    if error is not None:
        assert error.field  # always names the field
        assert str(error)


@given(
    integer=st.integers(min_value=0, max_value=1),
    digits=st.text(alphabet="0123456789", min_size=1, max_size=4),
)
def test_price_strings_round_trip_exactly(integer: int, digits: str) -> None:
    text = f"{integer}.{digits}"
    if Decimal(text) > 1:
        text = "1." + "0" * len(digits)
    body = {"ticker": "T", "event_ticker": "E", "status": "active",
            "yes_bid_dollars": text, "yes_ask_dollars": text}  # fmt: skip
    market = parse_market(decode_json(json.dumps(body)))
    assert str(market.yes_bid) == text
    assert market.yes_bid == Decimal(text)
    assert market.no_ask == Decimal(1) - Decimal(text)


@given(cents=st.integers(min_value=0, max_value=100))
def test_legacy_cents_equal_their_dollar_form(cents: int) -> None:
    legacy = parse_market({"ticker": "T", "event_ticker": "E", "status": "active",
                           "yes_bid": cents, "yes_ask": cents})  # fmt: skip
    current = parse_market({"ticker": "T", "event_ticker": "E", "status": "active",
                            "yes_bid_dollars": f"{Decimal(cents) / 100:.4f}",
                            "yes_ask_dollars": f"{Decimal(cents) / 100:.4f}"})  # fmt: skip
    assert legacy.yes_bid == current.yes_ask == Decimal(cents) / 100


@given(
    rate=st.integers(min_value=1, max_value=500),
    capacity_factor=st.integers(min_value=1, max_value=4),
    requests=st.lists(
        st.tuples(st.integers(min_value=1, max_value=10), st.floats(min_value=0, max_value=0.2)),
        min_size=1,
        max_size=60,
    ),
)
def test_token_bucket_never_exceeds_rate_over_any_window(
    rate: int, capacity_factor: int, requests: list[tuple[int, float]]
) -> None:
    capacity = float(max(rate * capacity_factor // 2, 10))
    clock = FakeClock()
    bucket = TokenBucket(BucketSpec(refill_rate=rate, capacity=capacity), clock=clock)
    grants: list[tuple[float, int]] = []

    async def run() -> None:
        for cost, pause in requests:
            clock.advance(pause)
            await bucket.acquire(cost)
            grants.append((clock.monotonic(), cost))

    asyncio.run(run())
    # In any window [t_i, t_j], tokens granted <= capacity + rate * (t_j - t_i).
    for i, (start, _) in enumerate(grants):
        used = 0
        for end, cost in grants[i:]:
            used += cost
            assert used <= capacity + rate * (end - start) + 1e-6
