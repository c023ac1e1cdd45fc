"""The latest-version lookup (index on the numeric version, one row) vs listing every version
and taking the highest in Python, measured in the same run on 2,000 versions of one model."""

from __future__ import annotations

import pytest

from precog.analytics.model_manager import ModelManager, ModelSpec, ModelVersion
from precog.database.connection import Database
from tests.performance.conftest import SpeedComparer

pytestmark = pytest.mark.module("model_manager")

VERSIONS = 2000


async def test_latest_version_lookup_vs_listing_all(
    compare_speed: SpeedComparer, db_pool: Database
) -> None:
    manager = ModelManager(db_pool)
    specs = [ModelSpec("elo-nfl", f"1.{i}.0", "elo", {"k": i}) for i in range(VERSIONS)]
    await manager.create_many(specs)

    async def latest() -> str:
        row = await manager.latest("elo-nfl")
        assert row is not None
        return row.version

    async def list_and_pick() -> str:
        rows = await manager.list(name="elo-nfl")
        return str(max(ModelVersion.parse(r.version) for r in rows))

    assert await latest() == await list_and_pick() == f"1.{VERSIONS - 1}.0"
    await compare_speed.async_(
        baseline=list_and_pick,
        candidate=latest,
        min_speedup=5.0,
        baseline_name="list all and pick",
        candidate_name="latest lookup",
    )
