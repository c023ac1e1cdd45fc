"""Sandbox simulation invariants for any seed, any amount of simulated time and any page
size: quotes stay consistent and in range, the portfolio balances, pagination is complete.
(The sandbox is not one of the eleven modules; no module declared.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from precog.sandbox.exchange import SandboxExchange
from precog.utils.clock import FakeClock

WALL = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@given(
    seed=st.integers(0, 2**32),
    markets=st.integers(0, 40),
    moves=st.lists(st.tuples(st.integers(0, 6 * 3600), st.integers(1, 5)), max_size=6),
)
@settings(max_examples=40)
def test_invariants_hold_through_any_simulation(
    seed: int, markets: int, moves: list[tuple[int, int]]
) -> None:
    ex = SandboxExchange(seed=seed, markets=markets, clock=FakeClock(wall=WALL))
    for seconds, steps in moves:
        ex.advance(seconds, steps=steps)
        assert ex.portfolio_problems() == []
    for m in ex.list_markets({"limit": "1000"})["markets"]:
        yes_bid, yes_ask = Decimal(m["yes_bid_dollars"]), Decimal(m["yes_ask_dollars"])
        assert Decimal("0.01") <= yes_bid < yes_ask <= Decimal("0.99")
        assert Decimal(m["no_bid_dollars"]) == 1 - yes_ask
        assert Decimal(m["no_ask_dollars"]) == 1 - yes_bid
        if m["status"] == "finalized":
            assert m["result"] in ("yes", "no")
    for p in ex.positions.values():
        if ex.markets[p.ticker].status == "finalized":
            assert p.settled
            assert p.position == 0


@given(seed=st.integers(0, 1000), limit=st.integers(1, 60), markets=st.integers(0, 120))
@settings(max_examples=40)
def test_pagination_returns_every_market_once(seed: int, limit: int, markets: int) -> None:
    ex = SandboxExchange(seed=seed, markets=markets, clock=FakeClock(wall=WALL))
    seen: list[str] = []
    cursor = ""
    while True:
        page = ex.list_markets({"limit": str(limit), **({"cursor": cursor} if cursor else {})})
        assert len(page["markets"]) <= limit
        seen.extend(m["ticker"] for m in page["markets"])
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == ex.market_tickers()
