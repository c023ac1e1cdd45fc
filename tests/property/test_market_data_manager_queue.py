"""PersistenceQueue invariants over generated interleavings of updates and database outages:
with room to hold everything, every update is written exactly once and in order; with a
small hold buffer, what is written is an in-order suffix-preserving subsequence and
written + dropped == put. And a stream update merged into a snapshot keeps the venue's
prices exactly and never starts in the future."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.kalshi_stream_models import TickerUpdate
from precog.database.errors import DatabaseUnavailableError
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from precog.schedulers.market_data_manager import MarketDataManager, PersistenceQueue
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("market_data_manager")

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(1, 8)),
        st.tuples(st.just("down"), st.integers(1, 5)),
        st.tuples(st.just("run"), st.integers(1, 6)),
    ),
    max_size=25,
)


def snapshot(n: int) -> MarketSnapshot:
    return MarketSnapshot(ticker=f"M{n % 3}", event_ticker="E", series_ticker="S",
                          status="active", observed_at=T0 + dt.timedelta(seconds=n))  # fmt: skip


@given(plan=ops, hold_limit=st.one_of(st.just(10_000), st.integers(1, 6)),
       batch=st.integers(1, 5))  # fmt: skip
def test_no_update_is_lost_or_reordered(
    plan: list[tuple[str, int]], hold_limit: int, batch: int
) -> None:
    written: list[int] = []
    failing = [0]

    async def write(snapshots: Sequence[MarketSnapshot]) -> UpsertResult:
        if failing[0]:
            failing[0] -= 1
            raise DatabaseUnavailableError("down")
        written.extend(int((s.observed_at - T0).total_seconds()) for s in snapshots)
        return UpsertResult(created=len(snapshots))

    async def scenario() -> tuple[int, int]:
        queue = PersistenceQueue(write, maxsize=1000, batch_size=batch, hold_limit=hold_limit,
                                 clock=FakeClock())  # fmt: skip
        queue.start()
        put = 0
        for op, n in plan:
            if op == "put":
                for _ in range(n):
                    await queue.put(snapshot(put))
                    put += 1
            elif op == "down":
                failing[0] += n
            else:
                for _ in range(n):
                    await asyncio.sleep(0)
        assert await queue.flush(10)
        await queue.close()
        return put, queue.stats.dropped

    put, dropped = asyncio.run(scenario())
    assert written == sorted(written)  # in order
    assert len(written) == len(set(written))  # exactly once
    assert len(written) + dropped == put
    if hold_limit == 10_000:
        assert written == list(range(put))  # nothing dropped at all


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=4)


@given(
    bid=st.one_of(st.none(), prices), ask=st.one_of(st.none(), prices),
    volume=st.one_of(st.none(), st.decimals(0, 10**6, places=2)),
    skew=st.integers(-10**6, 10**6),
)  # fmt: skip
def test_stream_merge_keeps_venue_prices_and_never_starts_in_the_future(
    bid: Decimal | None, ask: Decimal | None, volume: Decimal | None, skew: int
) -> None:
    manager = MarketDataManager(KalshiClient("http://x.test/trade-api/v2"), clock=FakeClock())
    base = MarketSnapshot(ticker="M", event_ticker="E", series_ticker="S", status="active",
                          observed_at=T0, yes_bid=Decimal("0.5"), yes_ask=Decimal("0.6"),
                          last_price=Decimal("0.55"), volume=Decimal("1.00"))  # fmt: skip
    manager._base["M"] = base
    received = T0 + dt.timedelta(hours=1)
    update = TickerUpdate(
        market_ticker="M", yes_bid=bid, yes_ask=ask, last_price=None, yes_bid_size=None,
        yes_ask_size=None, last_trade_size=None, volume=volume, open_interest=None,
        venue_time=received + dt.timedelta(seconds=skew), received_at=received,
    )  # fmt: skip
    merged = manager.stream_snapshot(update)
    assert merged is not None
    assert merged.yes_bid == (base.yes_bid if bid is None else bid)
    assert merged.yes_ask == (base.yes_ask if ask is None else ask)
    assert merged.volume == (base.volume if volume is None else volume)
    assert merged.last_price == base.last_price
    assert merged.observed_at <= received
    assert merged.observed_at == min(received, received + dt.timedelta(seconds=skew))
