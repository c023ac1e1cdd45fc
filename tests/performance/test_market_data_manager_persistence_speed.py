"""The manager's persistence path, as a ratio measured in the same run on the same database:
60 market updates through the PersistenceQueue in batches (what the manager does) vs the
same updates written one per transaction (batch size 1). Batching is why the queue keeps up
with a busy stream."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from precog.database.connection import Database
from precog.database.records import MarketSnapshot
from precog.schedulers.market_data_manager import PersistenceQueue, database_writer

pytestmark = pytest.mark.module("market_data_manager")

N = 60
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.mark.timeout(120)
async def test_batched_queue_vs_one_write_per_update(compare_speed: Any, db_pool: Database) -> None:
    rounds = itertools.count(1)

    def updates() -> list[MarketSnapshot]:
        r = next(rounds)  # every round moves every market: each update is a new version
        return [
            MarketSnapshot(
                ticker=f"KXPERF-{i:04d}", event_ticker=f"KXPERF-E{i // 50}",
                series_ticker="KXPERF", status="active",
                observed_at=T0 + dt.timedelta(seconds=r),
                yes_bid=Decimal("0.10") + Decimal(r % 50) / 100, yes_ask=Decimal("0.99"),
            )
            for i in range(N)
        ]  # fmt: skip

    async def through(batch_size: int) -> None:
        queue = PersistenceQueue(database_writer(db_pool), maxsize=N, batch_size=batch_size)
        queue.start()
        for snapshot in updates():
            await queue.put(snapshot)
        assert await queue.flush(60)
        await queue.close()
        assert queue.stats.batches == -(-N // batch_size)
        assert queue.stats.written.updated + queue.stats.written.created == N

    async def batched() -> None:
        await through(30)

    async def one_by_one() -> None:
        await through(1)

    await compare_speed.async_(
        baseline=one_by_one,
        candidate=batched,
        min_speedup=3.0,  # one SCD2 round trip per 30 updates instead of per update
        baseline_name="one transaction per update",
        candidate_name="PersistenceQueue batches of 30",
        repeats=3,
    )
