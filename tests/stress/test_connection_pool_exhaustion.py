"""connection under more users than connections: typed timeouts, nothing leaked."""

from __future__ import annotations

import asyncio

import pytest

from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.errors import PoolExhaustedError
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("connection")


def _db(url: str, size: int, timeout: float) -> Database:
    return Database(url, env=Environment.TEST, description="stress db",
                    settings=PoolSettings(min_size=1, max_size=size, timeout=timeout))  # fmt: skip


async def test_connection_pool_exhaustion(db_url: str) -> None:
    db = _db(db_url, size=2, timeout=0.5)
    await db.start()
    release = asyncio.Event()
    both_holding = asyncio.Barrier(3)

    async def holder() -> None:
        async with db.connection() as conn:
            await conn.execute("SELECT 1")
            await both_holding.wait()
            await release.wait()

    try:
        async with asyncio.timeout(30):
            holders = [asyncio.create_task(holder()) for _ in range(2)]
            await both_holding.wait()
            with pytest.raises(PoolExhaustedError) as caught:
                async with db.connection():
                    pass
            release.set()
            await asyncio.gather(*holders)
            async with db.connection() as conn:  # usable again once connections return
                cur = await conn.execute("SELECT 1")
                assert await cur.fetchone() == (1,)
    finally:
        release.set()
        await db.close()
    assert caught.value.pool_size == 2
    assert "all 2 connections" in str(caught.value)
    assert "0.5s" in str(caught.value)


@pytest.mark.parametrize(("users", "hold", "patience"), [(200, 0.005, 10.0), (120, 0.05, 0.3)])
async def test_more_users_than_connections_finish_or_time_out_typed(
    db_url: str, users: int, hold: float, patience: float
) -> None:
    db = _db(db_url, size=4, timeout=patience)
    await db.start()

    async def user(i: int) -> int | PoolExhaustedError:
        try:
            async with db.connection() as conn:
                cur = await conn.execute("SELECT pg_sleep(%s), %s::int", (hold, i))
                row = await cur.fetchone()
        except PoolExhaustedError as exc:
            return exc
        assert row is not None
        return int(row[1])

    try:
        async with asyncio.timeout(60):
            results = await asyncio.gather(*(user(i) for i in range(users)))
        # Connections are reset and returned by the pool's workers: wait (bounded) for all.
        await eventually_async(
            lambda: db.stats()["pool_available"] == db.stats()["pool_size"],
            timeout=10,
            what="every pooled connection returned",
        )
        stats = db.stats()
        async with db.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active'"
            )
            active_others = (await cur.fetchone())[0]  # type: ignore[index]
    finally:
        await db.close()
    served = [r for r in results if isinstance(r, int)]
    timeouts = [r for r in results if isinstance(r, PoolExhaustedError)]
    assert len(served) + len(timeouts) == users
    assert sorted(served) == sorted(set(served))  # each user got its own answer
    assert all(exc.pool_size == 4 for exc in timeouts)
    outcomes = ["ok"] * len(served) + ["timeout"] * len(timeouts)
    assert outcomes.count("ok") > 0
    if patience >= 10:
        assert outcomes.count("timeout") == 0  # enough patience: everyone is served
    else:
        assert outcomes.count("timeout") > 0  # impatient users get the typed error
    # Nothing leaked: every connection came back, nobody is still waiting or running.
    assert stats["pool_size"] <= 4
    assert stats.get("requests_waiting", 0) == 0
    assert active_others == 0
