"""connection against a real server: failures that are not an unreachable server are not
reported as one (issue 11, defect 7), and the money migration keeps every stored value
(defect 6)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import psycopg
import pytest

from precog.config.environment import Environment
from precog.database import migrate
from precog.database.connection import Database, PoolSettings
from precog.database.errors import DatabaseBusyError, InvalidValueError, MigrationError
from tests.plugins.database import FreshDatabase

pytestmark = pytest.mark.module("connection")


def _incompressible(n: int) -> str:
    # Random letters: TOAST compression cannot shrink the key below the btree entry limit.
    rng = random.Random(11)
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))


async def test_a_key_too_long_for_its_index_is_bad_input_not_an_outage(
    db_pool: Database,
) -> None:
    # Errors are translated where the connection is borrowed (`Database.connection()`).
    with pytest.raises(InvalidValueError) as caught:
        async with db_pool.connection() as conn:
            await conn.execute(
                "INSERT INTO markets_keys (ticker) VALUES (%s)", (_incompressible(6000),)
            )
    async with db_pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM markets_keys")
        assert await cur.fetchone() == (0,)
    error = caught.value
    assert error.exit_code == 2
    assert "unreachable" not in str(error)
    assert "index row size" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        ("SELECT %s::jsonb", '{"a": "\\u0000"}', "unsupported Unicode escape"),
        ("SELECT %s::text", "a\x00b", "NUL"),
        ("SELECT %s::text", "caf\udce9", "not valid UTF-8"),
    ],
)
async def test_characters_the_server_cannot_store_are_bad_input(
    db_pool: Database, query: str, value: str, expected: str
) -> None:
    with pytest.raises(InvalidValueError) as caught:
        async with db_pool.connection() as conn:
            await conn.execute(query.encode(), (value,))
    assert caught.value.exit_code == 2
    assert expected in str(caught.value)


async def _update_locked_row(db: Database, setting: str) -> None:
    async with db.connection() as waiter:  # errors are translated when it is given back
        await waiter.execute(f"SET {setting} = '50ms'".encode())
        await waiter.execute("UPDATE markets_keys SET ticker = 'MOVED' WHERE ticker = 'LOCKED'")


@pytest.mark.parametrize("setting", ["lock_timeout", "statement_timeout"])
async def test_lock_and_statement_timeouts_advise_a_retry(db_url: str, setting: str) -> None:
    db = Database(
        db_url, env=Environment.TEST, description="test db",
        settings=PoolSettings(min_size=2, max_size=2, timeout=5),
    )  # fmt: skip
    await db.start()
    try:
        async with db.connection() as holder:
            await holder.execute("INSERT INTO markets_keys (ticker) VALUES ('LOCKED')")
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM markets_keys WHERE ticker = 'LOCKED' FOR UPDATE"
                )
                with pytest.raises(DatabaseBusyError) as caught:
                    await asyncio.wait_for(_update_locked_row(db, setting), timeout=10)
    finally:
        await db.close()
    message = str(caught.value)
    assert setting in message
    assert "retry" in message
    assert "unreachable" not in message
    assert caught.value.exit_code == 1


async def test_money_migration_widens_money_and_keeps_every_value(
    fresh_database: FreshDatabase,
) -> None:
    url = fresh_database()
    migrate.upgrade(url, "0002_seed_lookups")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO account_balance_keys (platform_id) "
            "SELECT platform_id FROM platforms WHERE code = 'kalshi'"
        )
        conn.execute(
            "INSERT INTO account_balance (balance_key_id, platform_id, balance, portfolio_value, "
            "row_start_ts, row_current_ind) SELECT balance_key_id, platform_id, "
            "99999999999999.9999, 0.0700, now(), true FROM account_balance_keys"
        )
    migrate.upgrade(url, "0005_money_precision")
    with psycopg.connect(url, autocommit=True) as conn:
        kept = conn.execute("SELECT balance, portfolio_value FROM account_balance").fetchone()
        assert kept == (Decimal("99999999999999.9999"), Decimal("0.0700"))
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, format_type(atttypid, atttypmod) "
                "FROM information_schema.columns c JOIN pg_attribute a "
                "ON a.attrelid = (c.table_schema || '.' || c.table_name)::regclass "
                "AND a.attname = c.column_name WHERE c.column_name IN "
                "('balance', 'fee_cost', 'realized_pnl', 'revenue', 'yes_bid')"
            ).fetchall()
        )
        assert types["account_balance.balance"] == "numeric(20,6)"
        assert types["fills.fee_cost"] == types["settlements.fee_cost"] == "numeric(20,6)"
        assert types["positions.realized_pnl"] == types["settlements.revenue"] == "numeric(20,6)"
        assert types["markets.yes_bid"] == "numeric(10,4)"  # prices keep their own type
        conn.execute("UPDATE account_balance SET portfolio_value = 0.012345")
    # narrowing back would round 0.012345: refused, data untouched
    with pytest.raises(MigrationError, match="more than 4 decimals"):
        migrate.downgrade(url, "0002_seed_lookups")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT portfolio_value FROM account_balance").fetchone() == (
            Decimal("0.012345"),
        )
        conn.execute("UPDATE account_balance SET portfolio_value = 0.0123")
    migrate.downgrade(url, "0002_seed_lookups")
    assert migrate.status(url).current == "0002_seed_lookups"
