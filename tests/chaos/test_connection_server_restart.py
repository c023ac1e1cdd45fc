"""connection vs a PostgreSQL crash: typed errors while down, recovery without a restart."""

from __future__ import annotations

import pytest

from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.errors import DatabaseUnavailableError
from tests.plugins.database import ChaosServer
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("connection")


async def test_database_connection_failure_and_reconnection(chaos_server: ChaosServer) -> None:
    db = Database(chaos_server.url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=2, max_size=4, timeout=3))  # fmt: skip
    await db.start()
    try:
        async with db.connection() as conn:
            await conn.execute("INSERT INTO system_health (component, status) VALUES ('a', 'ok')")

        chaos_server.crash()  # pg_ctl stop -m immediate: every connection cut, no checkpoint

        with pytest.raises(DatabaseUnavailableError) as caught:
            async with db.connection() as conn:
                await conn.execute("SELECT 1")
        assert "chaos server" in str(caught.value)
        down = await db.health()
        assert not down.ok
        assert down.error is not None

        chaos_server.restart()

        # Same process, same Database object: the next operation works again.
        async with db.connection() as conn:
            cur = await conn.execute("SELECT component FROM system_health")
            assert await cur.fetchall() == [("a",)]  # committed before the crash: not lost
        assert (await db.health()).ok
        # The pool refills to its minimum by itself.
        await eventually_async(
            lambda: db.stats()["pool_size"] >= 2, timeout=10, what="pool refilled after restart"
        )
    finally:
        await db.close()


async def test_open_fails_fast_while_down_and_succeeds_after_restart(
    chaos_server: ChaosServer,
) -> None:
    chaos_server.crash()
    db = Database(chaos_server.url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=3))  # fmt: skip
    with pytest.raises(DatabaseUnavailableError, match="unreachable at chaos server"):
        await db.start()
    await db.close()
    chaos_server.restart()
    db = Database(chaos_server.url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=3))  # fmt: skip
    await db.start()
    try:
        assert (await db.health()).ok
    finally:
        await db.close()
