"""The sandbox with 10k+ markets: full cursor pagination over HTTP at the maximum page size
returns every market exactly once, and simulation steps keep every quote consistent.
(The sandbox is not one of the eleven modules; no module declared.)"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.plugins.sandbox import RunningSandbox


@pytest.mark.timeout(180)
async def test_ten_thousand_markets_paginate_exactly_once(sandbox: RunningSandbox) -> None:
    sandbox.exchange.add_markets(10_000)
    expected = sandbox.exchange.market_tickers()
    assert len(expected) >= 10_000
    seen: list[str] = []
    cursor = ""
    async with httpx.AsyncClient(base_url=sandbox.base_url + "/", timeout=60) as client:
        for _ in range(100):
            params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
            response = await client.get("markets", params=params)
            assert response.status_code == 200
            body = response.json()
            seen.extend(m["ticker"] for m in body["markets"])
            for m in body["markets"]:
                assert Decimal(m["no_bid_dollars"]) == 1 - Decimal(m["yes_ask_dollars"])
            cursor = body["cursor"]
            if not cursor:
                break
    assert seen == expected  # ordered, complete, no duplicates
    assert sandbox.server.requests["/markets"] == -(-len(expected) // 1000)


@pytest.mark.timeout(180)
def test_steps_over_a_large_universe_stay_consistent(sandbox: RunningSandbox) -> None:
    sandbox.exchange.add_markets(5_000)
    sandbox.exchange.advance(3600, steps=5)
    assert sandbox.exchange.portfolio_problems() == []
