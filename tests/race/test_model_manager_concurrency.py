"""Concurrent lifecycle changes and creations of one model name: the invariants hold.

- activations of different versions at once, from separate pools (separate processes in
  real life): every one succeeds, they replace each other in one chain without gaps, and
  exactly one version is active at the end and at every moment a reader looks;
- creations of the same version at once: exactly one wins, every other caller gets
  `DuplicateVersionError`, one row is stored;
- a writer that bypasses the manager's lock: the one-active index refuses the loser, which
  gets `IllegalTransitionError` and changes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from precog.analytics.model_manager import (
    DuplicateVersionError,
    IllegalTransitionError,
    ModelManager,
)
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.crud_operations.models import ModelRow
from tests.plugins.database import lock_waiters
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("model_manager")

CONFIG = {"k_factor": 20, "home_advantage": Decimal("0.0550")}
WORKERS = 8


def _activated_at(model: ModelRow) -> datetime:
    assert model.activated_at is not None  # every version here was activated once
    return model.activated_at


async def _pools(url: str, n: int) -> list[Database]:
    dbs = [
        Database(
            url, env=Environment.TEST, description=f"race-{i}", settings=PoolSettings(1, 1, 30)
        )
        for i in range(n)
    ]
    for db in dbs:
        await db.start()
    return dbs


async def test_concurrent_activations_leave_exactly_one_active(
    db_url: str, db_pool: Database
) -> None:
    setup = ModelManager(db_pool)
    versions = [f"2.{i}" for i in range(WORKERS)]
    for version in versions:
        await setup.create("elo-nfl", version, "elo", CONFIG)
        await setup.start_testing("elo-nfl", version)
    dbs = await _pools(db_url, WORKERS)
    start = asyncio.Event()
    done = asyncio.Event()
    most_active_seen = 0

    async def activate(i: int) -> str:
        await start.wait()
        return (await ModelManager(dbs[i]).activate("elo-nfl", versions[i])).status

    async def reader() -> None:
        nonlocal most_active_seen
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            while not done.is_set():
                cur = await conn.execute(
                    "SELECT count(*) FROM probability_models WHERE status = 'active'"
                )
                row = await cur.fetchone()
                assert row is not None
                most_active_seen = max(most_active_seen, int(row[0]))
                await asyncio.sleep(0)

    try:
        async with asyncio.timeout(60):
            watcher = asyncio.create_task(reader())
            tasks = [asyncio.create_task(activate(i)) for i in range(WORKERS)]
            start.set()
            statuses = await asyncio.gather(*tasks)
            done.set()
            await watcher
    finally:
        for db in dbs:
            await db.close()

    assert statuses == ["active"] * WORKERS  # each activation succeeded when its turn came
    assert most_active_seen == 1
    rows = sorted(await setup.list(name="elo-nfl"), key=_activated_at)
    assert [m.status for m in rows] == ["deprecated"] * (WORKERS - 1) + ["active"]
    for older, newer in itertools.pairwise(rows):
        assert older.deprecated_at == newer.activated_at  # replaced exactly when the next began
        assert _activated_at(older) < _activated_at(newer)
    assert rows[-1].deprecated_at is None
    assert await setup.active("elo-nfl") == rows[-1]


async def test_concurrent_creation_of_one_version_has_one_winner(
    db_url: str, db_pool: Database
) -> None:
    dbs = await _pools(db_url, WORKERS)
    start = asyncio.Event()

    async def create(i: int) -> int | DuplicateVersionError:
        await start.wait()
        try:
            row = await ModelManager(dbs[i]).create("elo-nfl", "3.0", "elo", CONFIG, f"by {i}")
        except DuplicateVersionError as exc:
            return exc
        return row.model_id

    try:
        async with asyncio.timeout(60):
            tasks = [asyncio.create_task(create(i)) for i in range(WORKERS)]
            start.set()
            results = await asyncio.gather(*tasks)
    finally:
        for db in dbs:
            await db.close()

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, DuplicateVersionError)]
    assert len(winners) == 1
    assert len(losers) == WORKERS - 1
    assert all("elo-nfl 3.0.0 already exists" in str(e) for e in losers)
    stored = await ModelManager(db_pool).list(name="elo-nfl")
    assert [m.model_id for m in stored] == winners
    assert stored[0].config == CONFIG


async def test_a_writer_bypassing_the_lock_is_caught_by_the_one_active_index(
    db_url: str, db_pool: Database
) -> None:
    manager = ModelManager(db_pool)
    for version in ("1.0", "1.1", "1.2"):
        await manager.create("elo-nfl", version, "elo", CONFIG)
        await manager.start_testing("elo-nfl", version)
    await manager.activate("elo-nfl", "1.0")

    async with await psycopg.AsyncConnection.connect(db_url) as rogue:
        await rogue.execute(
            "UPDATE probability_models SET status = 'deprecated', deprecated_at = now() "
            "WHERE version = '1.0.0'"
        )
        await rogue.execute(
            "UPDATE probability_models SET status = 'active', activated_at = now() "
            "WHERE version = '1.1.0'"
        )
        activation = asyncio.create_task(manager.activate("elo-nfl", "1.2"))
        await eventually_async(
            lambda: lock_waiters(db_url, "UPDATE probability_models%"),
            timeout=20,
            what="the activation waits on the rogue writer",
        )
        await rogue.commit()
        with pytest.raises(IllegalTransitionError, match="became active at the same time"):
            async with asyncio.timeout(20):
                await activation

    by_version = {m.version: m.status for m in await manager.list(name="elo-nfl")}
    assert by_version == {"1.0.0": "deprecated", "1.1.0": "active", "1.2.0": "testing"}
