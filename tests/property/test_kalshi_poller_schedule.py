"""KalshiPoller invariants over generated inputs: the tick schedule never drifts or bursts,
and any universe/page size is polled completely, in order, one sink batch per page, with
every snapshot carrying exactly the venue's prices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.schedulers.kalshi_poller import KalshiPoller, _next_tick
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("kalshi_poller")

times = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
intervals = st.floats(min_value=0.01, max_value=3600, allow_nan=False, allow_infinity=False)


@given(previous=times, interval=intervals, late=st.floats(min_value=0, max_value=1e5))
def test_next_tick_is_ahead_on_the_grid_and_within_one_interval(
    previous: float, interval: float, late: float
) -> None:
    now = previous + late
    tick = _next_tick(previous, interval, now)
    assert tick > now
    assert tick - now <= interval * (1 + 1e-9) + 1e-6
    steps = (tick - previous) / interval
    assert abs(steps - round(steps)) < 1e-6 * max(1.0, steps)  # on the original grid


cents = st.integers(min_value=1, max_value=98)


@st.composite
def universes(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=60))
    out = []
    for i in range(n):
        bid = draw(cents)
        ask = draw(st.integers(min_value=bid + 1, max_value=99))
        out.append({
            "ticker": f"KXP-{i:03d}", "event_ticker": f"KXP-EV{i % 7}", "status": "active",
            "yes_bid_dollars": f"{bid / 100:.4f}", "yes_ask_dollars": f"{ask / 100:.4f}",
            "no_bid_dollars": f"{(100 - ask) / 100:.4f}",
            "no_ask_dollars": f"{(100 - bid) / 100:.4f}",
            "last_price_dollars": f"{draw(cents) / 100:.4f}", "result": "",
        })  # fmt: skip
    return out


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[MarketSnapshot]] = []

    async def write(self, snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        self.batches.append(list(snapshots))
        return UpsertResult(created=len(snapshots))


def exchange(markets: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        path, q = request.url.path.removeprefix("/trade-api/v2"), request.url.params
        if path == "/series":
            return httpx.Response(200, json={"series": [{"ticker": "KXP", "title": "P"}]})
        if path == "/events":
            events = [{"event_ticker": t, "series_ticker": "KXP", "title": t}
                      for t in q["tickers"].split(",")]  # fmt: skip
            return httpx.Response(200, json={"events": events, "cursor": ""})
        start, limit = int(q.get("cursor") or 0), int(q["limit"])
        more = start + limit < len(markets)
        cursor = str(start + limit) if more else ""
        return httpx.Response(
            200, json={"markets": markets[start : start + limit], "cursor": cursor}
        )

    return httpx.MockTransport(handle)


@given(markets=universes(), page_size=st.integers(min_value=1, max_value=25))
def test_every_market_is_polled_once_in_order_with_its_exact_prices(
    markets: list[dict[str, Any]], page_size: int
) -> None:
    async def poll() -> tuple[Any, Sink]:
        sink = Sink()
        clock = FakeClock()
        async with KalshiClient(
            "http://x.test/trade-api/v2",
            limiter=AccountLimiter(Tier.PRIME, clock=clock),
            public_limiter=AccountLimiter(Tier.PRIME, clock=clock),
            transport=exchange(markets), clock=clock,
        ) as client:  # fmt: skip
            poller = KalshiPoller(client, sink, page_size=page_size, clock=clock)
            return await poller.poll_once(), sink

    result, sink = asyncio.run(poll())
    written = [s for batch in sink.batches for s in batch]
    assert [s.ticker for s in written] == [m["ticker"] for m in markets]
    assert all(0 < len(b) <= page_size for b in sink.batches)
    assert len(sink.batches) == -(-len(markets) // page_size)
    assert result.stored == UpsertResult(created=len(markets))
    for snap, raw in zip(written, markets, strict=True):
        assert snap.yes_bid == Decimal(raw["yes_bid_dollars"])
        assert snap.yes_ask == Decimal(raw["yes_ask_dollars"])
        assert snap.no_bid == Decimal(raw["no_bid_dollars"])
        assert snap.last_price == Decimal(raw["last_price_dollars"])
        assert snap.series_ticker == "KXP"
