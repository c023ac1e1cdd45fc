"""connection against a real server: pool, health, guard, typed errors, migrations, schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from precog.config.environment import Environment
from precog.database import migrate
from precog.database.connection import Database, PoolSettings, apply_sql_file
from precog.database.errors import (
    CheckViolationError,
    DatabaseAuthError,
    DatabaseUnavailableError,
    NotNullViolationError,
    UniqueViolationError,
)
from precog.errors import EnvironmentSafetyError
from tests.plugins.database import FreshDatabase

pytestmark = pytest.mark.module("connection")

SCD2_TABLES = ["markets", "account_balance", "positions", "game_states"]


def _db(url: str, *, env: Environment = Environment.TEST, size: int = 4) -> Database:
    return Database(url, env=env, description="test db",
                    settings=PoolSettings(min_size=1, max_size=size, timeout=5))  # fmt: skip


async def test_health_reports_server_and_pool(db_pool: Database) -> None:
    health = await db_pool.health()
    assert health.ok
    assert health.error is None
    assert health.server_version is not None
    assert int(health.server_version.split(".")[0]) >= 15
    assert health.latency_ms is not None
    assert health.latency_ms >= 0


async def test_guard_refuses_a_test_database_outside_the_test_environment(db_url: str) -> None:
    db = _db(db_url, env=Environment.DEV)
    with pytest.raises(EnvironmentSafetyError, match="refusing test database"):
        await db.start()
    await db.close()


async def test_authentication_failure_is_typed(db_url: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["user"] = "no_such_role"
    db = _db(psycopg.conninfo.make_conninfo(**params))
    with pytest.raises(DatabaseAuthError, match=r"authentication failed|no_such_role"):
        await db.start()
    await db.close()


async def test_unreachable_server_is_typed_and_names_the_target(tmp_path: Path) -> None:
    url = f"postgresql://trader:s3cret@/precog_test?host={tmp_path}&port=5999"
    db = Database(url, env=Environment.TEST, description="postgresql://trader:***@/precog_test",
                  settings=PoolSettings(1, 2, 2))  # fmt: skip
    with pytest.raises(DatabaseUnavailableError) as caught:
        await db.start()
    await db.close()
    assert "postgresql://trader:***@/precog_test" in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert caught.value.exit_code == 4


async def test_pool_state_does_not_leak_between_users(db_url: str) -> None:
    db = _db(db_url, size=1)  # one connection: the second user must get the same one
    await db.start()
    try:
        async with db.connection() as conn:
            await conn.execute("SET statement_timeout = '1234ms'")
            await conn.execute("CREATE TEMP TABLE scratch (x int)")
            cur = await conn.execute("SELECT pg_backend_pid()")
            first_pid = (await cur.fetchone())[0]  # type: ignore[index]
        async with db.connection() as conn:
            cur = await conn.execute(
                "SELECT pg_backend_pid(), current_setting('statement_timeout')"
            )
            pid, timeout = await cur.fetchone()  # type: ignore[misc]
            cur = await conn.execute("SELECT to_regclass('pg_temp.scratch')")
            scratch = (await cur.fetchone())[0]  # type: ignore[index]
    finally:
        await db.close()
    assert pid == first_pid  # the same physical connection was reused ...
    assert timeout == "0"  # ... but its session settings were reset
    assert scratch is None


async def test_failed_transaction_does_not_poison_the_next_user(db_pool: Database) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero):
        async with db_pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT 1/0")
    async with db_pool.connection() as conn:
        cur = await conn.execute("SELECT 41 + 1")
        assert await cur.fetchone() == (42,)


async def _catalogue(url: str) -> list[tuple[object, ...]]:
    db = _db(url)
    await db.start()
    rows: list[tuple[object, ...]] = []
    async with db, db.connection() as conn:
        for query in (
            "SELECT table_name, column_name, data_type, is_nullable, numeric_precision, "
            "numeric_scale FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY 1, 2",
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM "
            "pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal "
            "ORDER BY 1",
            "SELECT code FROM platforms ORDER BY code",
        ):
            cur = await conn.execute(query)
            rows.extend(await cur.fetchall())
    return rows


async def test_upgrade_downgrade_upgrade_gives_the_same_catalogue(
    fresh_database: FreshDatabase,
) -> None:
    url = fresh_database()
    assert migrate.status(url).current is None
    migrate.upgrade(url)
    first = await _catalogue(url)
    assert len(first) > 200
    migrate.upgrade(url)  # idempotent
    assert await _catalogue(url) == first
    migrate.downgrade(url, "base")
    after_down = migrate.status(url)
    assert after_down.current is None
    assert after_down.table_counts == {}
    migrate.upgrade(url)
    assert await _catalogue(url) == first
    assert migrate.status(url).up_to_date


async def _rows(
    db: Database, query: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    async with db.connection() as conn:
        cur = await conn.execute(query, params)
        return await cur.fetchall()


async def test_scd_type2_columns_exist(db_pool: Database) -> None:
    for table in SCD2_TABLES:
        columns = dict(
            await _rows(
                db_pool,
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_name = %s",
                (table,),
            )
        )
        assert columns.get("row_start_ts") == "NO", table
        assert columns.get("row_end_ts") == "YES", table
        assert columns.get("row_current_ind") == "NO", table
        indexes = [
            str(r[0])
            for r in await _rows(
                db_pool, "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (table,)
            )
        ]
        assert any("UNIQUE" in d and "WHERE row_current_ind" in d for d in indexes), table
        exclusion = await _rows(
            db_pool,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'x'",
            (table,),
        )
        assert len(exclusion) == 1, table
        assert "tstzrange(row_start_ts, row_end_ts" in str(exclusion[0][0])


async def test_not_null_constraint_on_required_fields(db_pool: Database) -> None:
    required = {
        "markets": ["ticker", "status", "event_id", "row_start_ts"],
        "fills": ["venue_fill_id", "ticker", "count", "yes_price", "created_time"],
        "account_balance": ["balance", "platform_id"],
        "positions": ["ticker", "side", "quantity"],
        "game_states": ["league", "espn_event_id", "status"],
        "teams": ["league", "espn_team_id", "display_name"],
    }
    for table, columns in required.items():
        for column in columns:
            row = await _rows(
                db_pool,
                "SELECT is_nullable FROM information_schema.columns "
                "WHERE table_name = %s AND column_name = %s",
                (table, column),
            )
            assert row == [("NO",)], f"{table}.{column}"
    with pytest.raises(NotNullViolationError) as caught:
        async with db_pool.connection() as conn:
            await conn.execute("INSERT INTO markets_keys (ticker) VALUES (NULL)")
    assert (caught.value.table, caught.value.column) == ("markets_keys", "ticker")


async def test_price_and_status_checks_accept_exactly_the_venue_vocabulary(
    db_pool: Database,
) -> None:
    definition = await _rows(
        db_pool,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_markets_status'",
    )
    text = str(definition[0][0])
    for status in ("initialized", "inactive", "active", "closed", "determined",
                   "disputed", "amended", "finalized"):  # fmt: skip
        assert f"'{status}'" in text
    assert "'open'" not in text
    assert "'settled'" not in text


async def test_model_config_is_immutable(db_pool: Database) -> None:
    insert = (
        "INSERT INTO probability_models (name, version, model_class_id, config) "
        "SELECT 'elo_nfl', '1.0.0', model_class_id, '{\"k\": 20}' FROM model_classes "
        "WHERE code = 'elo'"
    )
    async with db_pool.connection() as conn:
        await conn.execute(insert)
        await conn.execute(  # allowed
            "UPDATE probability_models SET status = 'testing', testing_at = now()"
        )
    with pytest.raises(CheckViolationError) as immutable:
        async with db_pool.connection() as conn:
            await conn.execute("UPDATE probability_models SET config = '{\"k\": 30}'")
    assert (immutable.value.table, immutable.value.column) == ("probability_models", "config")
    with pytest.raises(UniqueViolationError):
        async with db_pool.connection() as conn:
            await conn.execute(insert)
    rows = await _rows(db_pool, "SELECT config->>'k', status FROM probability_models")
    assert rows == [("20", "testing")]


async def test_seed_file_is_applied_only_from_its_directory(
    db_pool: Database, db_url: str, tmp_path: Path
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "health.sql").write_text(
        "INSERT INTO system_health (component, status) VALUES ('seeded', 'ok');"
    )
    apply_sql_file(db_url, seeds, Path("health.sql"))
    assert await _rows(db_pool, "SELECT component FROM system_health") == [("seeded",)]


async def test_concurrent_users_share_a_small_pool(db_url: str) -> None:
    db = _db(db_url, size=2)
    await db.start()

    async def user(i: int) -> int:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT %s::int * 2", (i,))
            return int((await cur.fetchone())[0])  # type: ignore[index]

    try:
        results = await asyncio.gather(*(user(i) for i in range(20)))
    finally:
        await db.close()
    assert results == [i * 2 for i in range(20)]
