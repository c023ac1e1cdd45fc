"""History before Kalshi's cutoff (issue 11, defect 9): /historical/cutoff, /historical/fills
and /historical/orders, and the live-then-history iterators (transport double only)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.sandbox import shapes
from precog.sandbox.records import SimFill
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy

pytestmark = pytest.mark.module("kalshi_client")

BASE = "http://exchange.test/trade-api/v2"
CUTOFF = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


class Signer:
    key_id = "acct"

    def headers(self, method: str, path: str) -> dict[str, str]:
        return {"KALSHI-ACCESS-KEY": self.key_id, "KALSHI-ACCESS-SIGNATURE": f"{method}{path}"}


def fill(fill_id: str, days_before_cutoff: int) -> dict[str, Any]:
    at = CUTOFF - dt.timedelta(days=days_before_cutoff)
    sim = SimFill(1, fill_id, "o-1", "KXT-1", "yes", Decimal(2), Decimal("0.4200"),
                  Decimal("0.010000"), at)  # fmt: skip
    return shapes.fill_json(sim)


def exchange(pages: dict[str, list[dict[str, Any]]]) -> tuple[KalshiClient, list[httpx.Request]]:
    """A fake exchange: each path serves its pages in order, cursors "1", "2", ..."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.removeprefix("/trade-api/v2")
        if path == "/historical/cutoff":
            when = CUTOFF.strftime("%Y-%m-%dT%H:%M:%SZ")
            return httpx.Response(
                200,
                json={"market_settled_ts": when, "trades_created_ts": when,
                      "orders_updated_ts": when},
            )  # fmt: skip
        index = int(request.url.params.get("cursor") or 0)
        key, items = pages[path][index] if pages[path] else ("fills", [])
        more = index + 1 < len(pages[path])
        return httpx.Response(200, json={key: items, "cursor": str(index + 1) if more else ""})

    clock = FakeClock()
    limiter = AccountLimiter(Tier.PRESTIGE, clock=clock)
    client = KalshiClient(
        BASE, signer=Signer(), limiter=limiter, public_limiter=limiter, clock=clock,
        retry_policy=RetryPolicy(rng=random.Random(1)), transport=httpx.MockTransport(handle),
    )  # fmt: skip
    return client, seen


async def test_live_fills_then_history_each_once_even_when_one_moved() -> None:
    pages: dict[str, Any] = {
        "/portfolio/fills": [("fills", [fill("new-1", -2), fill("moved", 0)]),
                             ("fills", [fill("new-2", -1)])],
        "/historical/fills": [("fills", [fill("moved", 0), fill("old-1", 30)]),
                              ("fills", [fill("old-2", 300)])],
    }  # fmt: skip
    client, seen = exchange(pages)
    async with client:
        cutoff = await client.get_historical_cutoff()
        got = [f async for page in client.iter_all_fill_pages(limit=1000, ticker="KXT-1")
               for f in page.items]  # fmt: skip
    assert cutoff.trades_created_ts == CUTOFF == cutoff.orders_updated_ts
    assert [f.fill_id for f in got] == ["new-1", "moved", "new-2", "old-1", "old-2"]
    assert got[-1].fee_cost == Decimal("0.010000")
    history = [r for r in seen if r.url.path.endswith("/historical/fills")]
    assert [r.url.params.get("cursor") for r in history] == [None, "1"]
    assert all(r.url.params["limit"] == "200" for r in history)  # capped at its maximum
    assert all(r.url.params["ticker"] == "KXT-1" for r in history)
    assert all("KALSHI-ACCESS-SIGNATURE" in r.headers for r in history)  # your own trades
    cutoff_request = next(r for r in seen if r.url.path.endswith("/historical/cutoff"))
    assert "KALSHI-ACCESS-SIGNATURE" not in cutoff_request.headers  # public


async def test_history_is_skipped_when_nothing_asked_for_is_older_than_the_cutoff() -> None:
    pages: dict[str, Any] = {"/portfolio/fills": [("fills", [fill("new-1", -2)])],
                             "/historical/fills": [("fills", [fill("old-1", 30)])]}  # fmt: skip
    client, seen = exchange(pages)
    async with client:
        recent = [f.fill_id async for p in client.iter_all_fill_pages(min_ts=CUTOFF)
                  for f in p.items]  # fmt: skip
        older = [f.fill_id async for p in client.iter_all_fill_pages(
                 min_ts=CUTOFF - dt.timedelta(days=1)) for f in p.items]  # fmt: skip
    assert recent == ["new-1"]
    assert older == ["new-1", "old-1"]
    assert sum(r.url.path.endswith("/historical/fills") for r in seen) == 1


async def test_historical_orders_follow_the_orders_cutoff() -> None:
    order = {"order_id": "o-old", "user_id": "u", "client_order_id": "c", "ticker": "KXT-1",
             "outcome_side": "yes", "book_side": "bid", "type": "limit", "status": "executed",
             "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800",
             "fill_count_fp": "2.00", "remaining_count_fp": "0.00", "initial_count_fp": "2.00",
             "taker_fill_cost_dollars": "0.8400", "maker_fill_cost_dollars": "0.0000",
             "taker_fees_dollars": "0.020000", "maker_fees_dollars": "0.0000",
             "created_time": "2026-01-02T03:04:05Z"}  # fmt: skip
    pages: dict[str, Any] = {"/portfolio/orders": [],
                             "/historical/orders": [("orders", [order])]}  # fmt: skip
    client, _ = exchange(pages)
    async with client:
        orders = [o async for p in client.iter_all_order_pages() for o in p.items]
        direct = await client.get_historical_orders(limit=5, ticker="KXT-1")
    assert [o.order_id for o in orders] == ["o-old"]
    assert [o.order_id for o in direct.items] == ["o-old"]
    with pytest.raises(ValueError, match="between 1 and 200"):
        client.iter_historical_fills(limit=201)
