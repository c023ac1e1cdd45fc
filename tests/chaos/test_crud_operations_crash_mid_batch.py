"""crud_operations vs a PostgreSQL crash in the middle of a batch: all or nothing, then on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.config.environment import Environment
from precog.database import crud_operations as crud
from precog.database.connection import Database, PoolSettings
from precog.database.errors import DatabaseUnavailableError
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.database import ChaosServer
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 7, 1, tzinfo=UTC)
N = 15_000  # big enough that the write is still running when the server dies


def _batch(step: int) -> list[MarketSnapshot]:
    return [
        MarketSnapshot(
            ticker=f"KXCHAOS-{i:05d}",
            event_ticker=f"KXCHAOS-EV{i // 1000}",
            series_ticker="KXCHAOS",
            status="active",
            observed_at=T0 + timedelta(minutes=step),
            yes_bid=Decimal(step + 1) / 100,
        )
        for i in range(N)
    ]


def _writing(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND pid <> pg_backend_pid() AND (query LIKE 'WITH i AS%%' "
            "OR query LIKE 'WITH ins AS%%' OR query LIKE 'INSERT INTO%%')"
        ).fetchone()
    return bool(row and row[0])


def _check_history(url: str) -> tuple[int, dict[Decimal, int]]:
    with psycopg.connect(url) as conn:
        broken = conn.execute(
            "SELECT count(*) FROM (SELECT row_end_ts, row_current_ind, lead(row_start_ts) OVER "
            "(PARTITION BY market_id ORDER BY row_start_ts) AS nxt FROM markets) v "
            "WHERE (nxt IS NULL) <> row_current_ind OR (nxt IS NOT NULL AND nxt <> row_end_ts)"
        ).fetchone()
        current = conn.execute(
            "SELECT yes_bid, count(*) FROM markets WHERE row_current_ind GROUP BY yes_bid"
        ).fetchall()
    assert broken is not None
    return int(broken[0]), {bid: int(n) for bid, n in current}


async def test_crash_mid_batch_is_all_or_nothing_and_the_next_batch_succeeds(
    chaos_server: ChaosServer,
) -> None:
    url = chaos_server.url
    db = Database(url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=5))  # fmt: skip
    await db.start()
    try:
        async with db.connection() as conn:
            assert await crud.upsert_markets(conn, _batch(0)) == UpsertResult(created=N)

        async def second_batch() -> UpsertResult:
            async with db.connection() as conn:
                return await crud.upsert_markets(conn, _batch(1))

        task = asyncio.create_task(second_batch())
        await asyncio.to_thread(
            eventually,
            lambda: _writing(url),
            timeout=30,
            interval=0.005,
            what="the second batch is being written",
        )
        chaos_server.crash()
        with pytest.raises(DatabaseUnavailableError):
            async with asyncio.timeout(30):
                await task
        chaos_server.restart()

        broken, current = _check_history(url)
        assert broken == 0
        # All or nothing: every market still at batch 0's price, none half-moved.
        assert current == {Decimal("0.0100"): N}

        async with db.connection() as conn:  # same process: reconnects and carries on
            assert await crud.upsert_markets(conn, _batch(2)) == UpsertResult(updated=N)
        broken, current = _check_history(url)
        assert broken == 0
        assert current == {Decimal("0.0300"): N}
    finally:
        await db.close()
