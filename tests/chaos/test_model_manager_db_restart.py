"""model_manager vs a PostgreSQL crash (`pg_ctl stop -m immediate`) between and during
operations: a clear error, nothing half-written, and the same manager works after restart."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import psycopg
import pytest

from precog.analytics.model_manager import ModelManager
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.crud_operations import models as crud_models
from precog.database.errors import DatabaseUnavailableError
from tests.plugins.database import ChaosServer, lock_waiters
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("model_manager")

CONFIG = {"k_factor": 20, "home_advantage": Decimal("0.0550")}


def _statuses(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, status FROM probability_models").fetchall()
    return {str(v): str(s) for v, s in rows}


async def test_crash_between_and_during_operations(chaos_server: ChaosServer) -> None:
    url = chaos_server.url
    db = Database(url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=2))  # fmt: skip
    await db.start()
    manager = ModelManager(db)
    try:
        for version in ("1.0", "1.1", "1.2"):
            await manager.create("elo-nfl", version, "elo", CONFIG)
            await manager.start_testing("elo-nfl", version)
        await manager.activate("elo-nfl", "1.0")

        # During an operation: the activation waits on the name's lock (held by another
        # session) when the server dies; its transaction must leave no trace.
        holder = await psycopg.AsyncConnection.connect(url)
        try:
            await crud_models.lock_model_name(holder, "elo-nfl")
            activation = asyncio.create_task(manager.activate("elo-nfl", "1.1"))
            await eventually_async(
                lambda: lock_waiters(url, "%pg_advisory_xact_lock%"),
                timeout=20,
                what="the activation waits on the name's lock",
            )
            chaos_server.crash()
            with pytest.raises(DatabaseUnavailableError):
                async with asyncio.timeout(20):
                    await activation
        finally:
            await holder.close()  # its connection died with the server: nothing to commit

        # Between operations: while the server is down, a call says so in one clear line.
        with pytest.raises(DatabaseUnavailableError, match="unreachable") as info:
            await manager.activate("elo-nfl", "1.2")
        assert "\n" not in str(info.value)
        chaos_server.restart()
        assert _statuses(url) == {"1.0.0": "active", "1.1.0": "testing", "1.2.0": "testing"}

        # The same manager (same pool) carries on after the restart.
        assert (await manager.activate("elo-nfl", "1.1")).status == "active"
        created = await manager.create("elo-nfl", "2.0", "elo", CONFIG)
        assert created.config == CONFIG
        assert _statuses(url) == {
            "1.0.0": "deprecated",
            "1.1.0": "active",
            "1.2.0": "testing",
            "2.0.0": "draft",
        }
    finally:
        await db.close()
