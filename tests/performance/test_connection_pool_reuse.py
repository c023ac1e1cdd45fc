"""connection: a pooled query vs opening a new connection per query, measured side by side."""

from __future__ import annotations

import pytest
from psycopg import AsyncConnection

from precog.database.connection import Database

pytestmark = pytest.mark.module("connection")


async def test_pooled_query_beats_connect_per_query(
    db_pool: Database, db_url: str, compare_speed
) -> None:  # type: ignore[no-untyped-def]
    async def connect_per_query() -> None:
        conn = await AsyncConnection.connect(db_url, autocommit=True)
        try:
            await conn.execute("SELECT 1")
        finally:
            await conn.close()

    async def pooled_query() -> None:
        async with db_pool.connection() as conn:
            await conn.execute("SELECT 1")

    result = await compare_speed.async_(
        baseline=connect_per_query,
        candidate=pooled_query,
        min_speedup=3.0,
        baseline_name="connect per query",
        candidate_name="pooled connection",
    )
    print(result.describe())
