"""model_manager on the real database: storage, semantic latest, lifecycle, metrics, errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.analytics.model_manager import (
    DuplicateVersionError,
    IllegalTransitionError,
    ImmutableConfigError,
    InvalidModelInputError,
    ModelManager,
    ModelMetrics,
    ModelNotFoundError,
    ModelSpec,
    UnknownModelClassError,
    metrics_of,
)
from precog.database.connection import Database
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("model_manager")

CONFIG = {"k_factor": 20, "home_advantage": Decimal("0.0550"), "weights": [Decimal("0.50")]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(db_pool: Database, clock: FakeClock) -> ModelManager:
    return ModelManager(db_pool, clock=clock)


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM probability_models").fetchone()
    assert row is not None
    return int(row[0])


async def test_create_and_read_back_exactly(manager: ModelManager, clock: FakeClock) -> None:
    created = await manager.create("elo-nfl", "1.10", "elo", CONFIG, "home edge")
    assert (created.name, created.version, created.model_class) == ("elo-nfl", "1.10.0", "elo")
    assert created.status == "draft"
    assert created.created_at == clock.now()
    assert created.config == CONFIG
    assert str(created.config["home_advantage"]) == "0.0550"
    assert str(created.config["weights"][0]) == "0.50"
    assert type(created.config["k_factor"]) is int
    assert await manager.get(created.model_id) == created
    assert await manager.get_version("elo-nfl", "1.10.0") == created
    assert await manager.find("elo-nfl", "1.10") == created
    assert await manager.find("elo-nfl", "1.1") is None
    with pytest.raises(ModelNotFoundError, match=r"no model elo-nfl 1\.9\.0"):
        await manager.get_version("elo-nfl", "1.9")
    with pytest.raises(ModelNotFoundError, match="no model with id"):
        await manager.get(created.model_id + 1000)


async def test_latest_and_list_use_semantic_order(manager: ModelManager) -> None:
    for version in ["1.9", "1.10", "1.2.3", "0.9.9", "1.10.1", "1.1"]:
        await manager.create("elo-nfl", version, "elo", CONFIG)
    await manager.create("glm-nba", "3.0", "regression", {"c": Decimal("1.5")})
    latest = await manager.latest("elo-nfl")
    assert latest is not None
    assert latest.version == "1.10.1"
    listed = [m.version for m in await manager.list(name="elo-nfl")]
    assert listed == ["0.9.9", "1.1.0", "1.2.3", "1.9.0", "1.10.0", "1.10.1"]
    assert [m.name for m in await manager.list(model_class="regression")] == ["glm-nba"]
    assert [m.name for m in await manager.list()][-1] == "glm-nba"
    assert await manager.latest("nobody") is None
    assert await manager.list(status="active") == []
    with pytest.raises(InvalidModelInputError, match="unknown status 'live'"):
        await manager.list(status="live")


async def test_lifecycle_with_timestamps_and_one_active_version(
    manager: ModelManager, clock: FakeClock
) -> None:
    await manager.create("elo-nfl", "1.0", "elo", CONFIG)
    await manager.create("elo-nfl", "1.1", "elo", CONFIG)
    with pytest.raises(IllegalTransitionError, match="move it to testing first"):
        await manager.activate("elo-nfl", "1.0")

    clock.advance(10)
    testing = await manager.start_testing("elo-nfl", "1.0")
    assert (testing.status, testing.testing_at) == ("testing", clock.now())
    clock.advance(10)
    first = await manager.activate("elo-nfl", "1.0")
    assert (first.status, first.activated_at) == ("active", clock.now())
    assert first.config == CONFIG

    await manager.start_testing("elo-nfl", "1.1")
    clock.advance(60)
    second = await manager.activate("elo-nfl", "1.1")
    replaced = await manager.get_version("elo-nfl", "1.0")
    assert replaced.status == "deprecated"
    assert replaced.deprecated_at == second.activated_at == clock.now()  # no gap between them
    assert await manager.active("elo-nfl") == second

    with pytest.raises(IllegalTransitionError, match="is deprecated and cannot become active"):
        await manager.activate("elo-nfl", "1.0")
    with pytest.raises(IllegalTransitionError, match="is active and cannot become active"):
        await manager.activate("elo-nfl", "1.1")
    await manager.deprecate("elo-nfl", "1.1")
    assert await manager.active("elo-nfl") is None
    with pytest.raises(IllegalTransitionError, match="it is final"):
        await manager.start_testing("elo-nfl", "1.1")
    with pytest.raises(ModelNotFoundError):
        await manager.activate("elo-nfl", "7.0")


async def test_error_handling_invalid_model_type(manager: ModelManager, db_pool: Database) -> None:
    """The plan's test: an unknown model class is refused, naming the classes to use."""
    with pytest.raises(UnknownModelClassError, match=r"unknown model class 'neural'; use one of"):
        await manager.create("nn", "1.0", "neural", CONFIG)
    # A class the database knows but the configuration does not allow is refused too.
    narrowed = ModelManager(db_pool, allowed_classes=["elo", "regression"])
    with pytest.raises(UnknownModelClassError, match=r"use one of: elo, regression$"):
        await narrowed.create("base", "1.0", "baseline", CONFIG)
    assert (await narrowed.create("base", "1.0", "elo", CONFIG)).model_class == "elo"
    assert [m.name for m in await manager.list()] == ["base"]


async def test_duplicates_and_changed_configs_store_nothing(
    manager: ModelManager, db_url: str
) -> None:
    await manager.create("elo-nfl", "2.0", "elo", CONFIG)
    with pytest.raises(DuplicateVersionError, match=r"elo-nfl 2\.0\.0 already exists"):
        await manager.create("elo-nfl", "2", "elo", CONFIG)
    changed = {**CONFIG, "k_factor": 32}
    with pytest.raises(ImmutableConfigError, match="different config; a stored version never"):
        await manager.create("elo-nfl", "2.0.0", "elo", changed)
    with pytest.raises(ImmutableConfigError, match="different class"):
        await manager.create("elo-nfl", "2.0.0", "ml", CONFIG)
    # A batch with one clash stores none of its versions.
    batch = [
        ModelSpec("elo-nfl", "2.1", "elo", CONFIG),
        ModelSpec("elo-nfl", "2.0", "elo", changed),
    ]
    with pytest.raises(ImmutableConfigError):
        await manager.create_many(batch)
    with pytest.raises(DuplicateVersionError, match="given twice"):
        await manager.create_many([batch[0], ModelSpec("elo-nfl", "2.1.0", "elo", CONFIG)])
    with pytest.raises(InvalidModelInputError, match="is a float"):
        await manager.create_many([batch[0], ModelSpec("elo-nfl", "2.2", "elo", {"a": 0.1})])
    assert _count(db_url) == 1
    stored = await manager.get_version("elo-nfl", "2.0")
    assert stored.config == CONFIG


async def test_the_database_refuses_what_the_manager_refuses(
    manager: ModelManager, db_url: str
) -> None:
    model = await manager.create("elo-nfl", "1.0", "elo", CONFIG)
    await manager.create("elo-nfl", "1.1", "elo", CONFIG)
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="config is immutable") as info:
            conn.execute(
                "UPDATE probability_models SET config = '{}' WHERE model_id = %s",
                (model.model_id,),
            )
        assert info.value.diag.constraint_name == "ck_probability_models_config__immutable"
        with pytest.raises(psycopg.errors.CheckViolation, match="version__semver"):
            conn.execute(
                "INSERT INTO probability_models (name, version, model_class_id, config) "
                "SELECT 'x', '1.10', model_class_id, '{}' FROM model_classes WHERE code = 'elo'"
            )
        conn.execute(
            "UPDATE probability_models SET status = 'active', activated_at = now() "
            "WHERE version = '1.0.0'"
        )
        with pytest.raises(psycopg.errors.UniqueViolation, match="one_active"):
            conn.execute(
                "UPDATE probability_models SET status = 'active', activated_at = now() "
                "WHERE version = '1.1.0'"
            )
        with pytest.raises(psycopg.errors.CheckViolation, match="status__timestamps"):
            conn.execute("UPDATE probability_models SET status = 'testing' WHERE version = '1.1.0'")
    assert (await manager.active("elo-nfl")) is not None


async def test_metrics_are_recorded_exactly_and_replaced(
    manager: ModelManager, clock: FakeClock
) -> None:
    await manager.create("elo-nfl", "1.0", "elo", CONFIG)
    first = ModelMetrics(Decimal("0.6120"), Decimal("0.0400"), 1200, clock.now())
    row = await manager.record_metrics("elo-nfl", "1.0", first)
    assert metrics_of(row) == first
    assert str(row.metrics["accuracy"]) == "0.6120"  # type: ignore[index]
    later = ModelMetrics(Decimal("1"), Decimal("0"), 5, clock.now() + timedelta(days=1))
    row = await manager.record_metrics("elo-nfl", "1.0", later)
    assert metrics_of(row) == later
    assert row.config == CONFIG
    with pytest.raises(ModelNotFoundError):
        await manager.record_metrics("elo-nfl", "9.0", later)
