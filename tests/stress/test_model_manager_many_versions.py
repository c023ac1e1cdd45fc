"""Thousands of model versions: semantic order, latest, and a long activation chain stay right.

Bounded: everything runs under one timeout; the checks are exact counts and orders.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import psycopg
import pytest

from precog.analytics.model_manager import ModelManager, ModelSpec, ModelVersion
from precog.database.connection import Database

pytestmark = pytest.mark.module("model_manager")

VERSIONS = 3000
BATCH = 500
OTHER_NAMES = 40
ACTIVATIONS = 60


async def test_thousands_of_versions_in_semantic_order(db_pool: Database, db_url: str) -> None:
    rng = random.Random(8)
    manager = ModelManager(db_pool)
    texts = sorted(
        {
            f"{rng.randrange(3)}.{rng.randrange(40)}.{rng.randrange(200)}"
            for _ in range(VERSIONS * 2)
        }
    )[:VERSIONS]
    rng.shuffle(texts)  # stored in random order
    specs = [
        ModelSpec("elo-nfl", v, "elo", {"k": i, "edge": Decimal(i) / 10000})
        for i, v in enumerate(texts)
    ]
    specs += [ModelSpec(f"other-{i:02d}", "1.0", "ml", {"i": i}) for i in range(OTHER_NAMES)]

    async with asyncio.timeout(120):
        created = 0
        for start in range(0, len(specs), BATCH):
            created += len(await manager.create_many(specs[start : start + BATCH]))
        assert created == len(texts) + OTHER_NAMES

        expected = sorted(ModelVersion.parse(t) for t in texts)
        listed = await manager.list(name="elo-nfl")
        assert [m.version for m in listed] == [str(v) for v in expected]
        latest = await manager.latest("elo-nfl")
        assert latest is not None
        assert latest.version == str(expected[-1])
        # Every config came back exactly (the edge is a Decimal with 4 places).
        by_version = {m.version: m.config for m in listed}
        for i, text in enumerate(texts):
            config = by_version[str(ModelVersion.parse(text))]
            assert config == {"k": i, "edge": Decimal(i) / 10000}

        # A long chain of activations: each replaces the previous one.
        chain = [str(v) for v in expected[-ACTIVATIONS:]]
        for version in chain:
            await manager.start_testing("elo-nfl", version)
            await manager.activate("elo-nfl", version)

    with psycopg.connect(db_url) as conn:
        counts = dict(
            conn.execute(
                "SELECT status, count(*) FROM probability_models WHERE name = 'elo-nfl' "
                "GROUP BY status"
            ).fetchall()
        )
    assert counts == {"draft": len(texts) - ACTIVATIONS, "deprecated": ACTIVATIONS - 1, "active": 1}
    active = await manager.active("elo-nfl")
    assert active is not None
    assert active.version == chain[-1]
