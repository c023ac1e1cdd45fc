"""connection under concurrent users: exclusive connections, no session state across users."""

from __future__ import annotations

import asyncio

import pytest

from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings

pytestmark = pytest.mark.module("connection")

SIZE = 6


async def test_no_connection_is_lent_to_two_users_at_once(db_url: str) -> None:
    db = Database(db_url, env=Environment.TEST, description="race",
                  settings=PoolSettings(min_size=1, max_size=SIZE, timeout=20))  # fmt: skip
    await db.start()
    in_use: set[int] = set()
    overlaps: list[int] = []
    seen_foreign_state: list[str] = []

    async def user(i: int) -> None:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid(), current_setting('application_name')")
            pid, app = await cur.fetchone()  # type: ignore[misc]
            if app.startswith("user-"):
                seen_foreign_state.append(app)  # a previous user's SET survived the reset
            if pid in in_use:
                overlaps.append(pid)
            in_use.add(pid)
            await conn.execute(f"SET application_name = 'user-{i}'")
            await asyncio.sleep(0)  # let other users interleave while we hold it
            await conn.execute("SELECT pg_sleep(0.002)")
            in_use.discard(pid)

    try:
        async with asyncio.timeout(60):
            await asyncio.gather(*(user(i) for i in range(300)))
    finally:
        await db.close()
    assert overlaps == []
    assert seen_foreign_state == []


async def test_all_connections_held_at_once_are_distinct(db_url: str) -> None:
    db = Database(db_url, env=Environment.TEST, description="race",
                  settings=PoolSettings(min_size=SIZE, max_size=SIZE, timeout=20))  # fmt: skip
    await db.start()
    barrier = asyncio.Barrier(SIZE)
    pids: list[int] = []

    async def user() -> None:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT pg_backend_pid()")
            pids.append((await cur.fetchone())[0])  # type: ignore[index]
            await barrier.wait()  # every connection is out at the same moment

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(user() for _ in range(SIZE)))
    finally:
        await db.close()
    assert len(pids) == SIZE
    assert len(set(pids)) == SIZE
