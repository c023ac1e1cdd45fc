"""crud_operations at volume: 40k market snapshots (5,000 markets x 8 rounds) in batches,
exact counts and invariants."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MARKETS = 5_000
ROUNDS = 8  # 40k snapshots: eight times the markets a busy day has
BATCH = 5_000


def _snapshot(i: int, r: int) -> MarketSnapshot:
    # Even markets move every round, odd markets never change after the first.
    bid = Decimal(i % 50 + (r if i % 2 == 0 else 0)) / 100
    return MarketSnapshot(
        ticker=f"KXSTRESS-{i:05d}", event_ticker=f"KXEV-{i // 100}", series_ticker="KXSTRESS",
        status="active", observed_at=T0 + timedelta(seconds=r), yes_bid=bid,
        yes_ask=Decimal("0.9900"), volume=Decimal(r),
    )  # fmt: skip


async def test_40k_snapshots_in_batches(db_pool: Database, db_url: str) -> None:
    total = UpsertResult()
    started = time.monotonic()
    async with db_pool.connection() as conn:
        for r in range(ROUNDS):
            snaps = [_snapshot(i, r) for i in range(MARKETS)]
            for offset in range(0, len(snaps), BATCH):
                total = total + await crud.upsert_markets(conn, snaps[offset : offset + BATCH])
    elapsed = time.monotonic() - started
    # volume changes every round for every market, so every round after the first updates all
    assert total == UpsertResult(created=MARKETS, updated=MARKETS * (ROUNDS - 1))
    assert elapsed < 120, f"40k snapshots took {elapsed:.1f}s (sanity cap)"

    with psycopg.connect(db_url) as conn:
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE row_current_ind), "
            "count(DISTINCT ticker) FROM markets"
        ).fetchone()
        broken_chain = conn.execute(
            "SELECT count(*) FROM (SELECT row_end_ts, lead(row_start_ts) OVER w AS next_start, "
            "row_current_ind FROM markets WINDOW w AS (PARTITION BY market_id "
            "ORDER BY row_start_ts)) v WHERE (next_start IS NULL) <> row_current_ind "
            "OR (next_start IS NOT NULL AND next_start <> row_end_ts)"
        ).fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    assert counts == (MARKETS * ROUNDS, MARKETS, MARKETS)
    assert broken_chain == (0,)
    assert events == (MARKETS // 100,)
    await eventually_async(
        lambda: db_pool.stats()["pool_available"] == db_pool.stats()["pool_size"],
        timeout=10,
        what="the connection returned to the pool",
    )


async def test_unchanged_resubmission_writes_nothing(db_pool: Database, db_url: str) -> None:
    snaps = [_snapshot(i, 0) for i in range(MARKETS)]
    async with db_pool.connection() as conn:
        first = await crud.upsert_markets(conn, snaps)
        later = [
            MarketSnapshot(**{**s.__dict__, "observed_at": s.observed_at + timedelta(hours=1)})
            for s in snaps
        ]
        second = await crud.upsert_markets(conn, later)
    assert first == UpsertResult(created=MARKETS)
    assert second == UpsertResult(unchanged=MARKETS)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM markets").fetchone() == (MARKETS,)
