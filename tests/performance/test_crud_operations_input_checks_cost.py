"""Refusing values the database cannot store exactly (issue 11, defects 6 and 7) is cheap
next to the write it protects: checking a batch of market observations vs writing that
batch through the SCD2 writer, measured in the same run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.input_checks import check_observations
from precog.database.records import MarketSnapshot
from precog.database.scd2 import Observation

pytestmark = pytest.mark.module("crud_operations")

ROWS = 300
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _snapshots(step: int) -> list[MarketSnapshot]:
    return [
        MarketSnapshot(
            ticker=f"KXCHK-{i:04d}", event_ticker="KXCHK-EV", series_ticker="KXCHK",
            status="active", observed_at=T0 + timedelta(seconds=step), title=f"Market {i}",
            yes_bid=Decimal((i + step) % 99 + 1) / 100, yes_ask=Decimal("0.9900"),
            volume=Decimal("125.00"),
        )
        for i in range(ROWS)
    ]  # fmt: skip


async def test_checking_a_batch_costs_a_small_fraction_of_writing_it(
    db_pool: Database,
    compare_speed,  # type: ignore[no-untyped-def]
) -> None:
    steps = itertools.count(1)
    observations = [
        Observation(
            (s.ticker,),
            {c.name: getattr(s, c.name, None) for c in crud.MARKETS.tracked},
            s.observed_at,
        )
        for s in _snapshots(0)
    ]

    async def write() -> None:
        async with db_pool.connection() as conn:
            result = await crud.upsert_markets(conn, _snapshots(next(steps)))
        assert result.written == ROWS

    async def check() -> None:
        check_observations(crud.MARKETS, observations)

    await compare_speed.async_(
        baseline=write,
        candidate=check,
        min_speedup=5.0,  # the checks add at most ~20% to a write
        baseline_name="SCD2 write of the batch",
        candidate_name="input checks of the batch",
    )
