"""Shared plumbing of the data-access package: the SCD2 tables and their one writer, one
transaction per call with typed errors, row mapping, platform ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from precog.database.connection import translate_error
from precog.database.errors import ForeignKeyViolationError
from precog.database.input_checks import check_observations
from precog.database.scd2 import (
    DEFAULT_RETRY,
    Column,
    Observation,
    Scd2Table,
    Scd2Writer,
    UpsertResult,
    is_retryable_conflict,
    sql_param,
)
from precog.utils.retry import retry_async

T = TypeVar("T")
R = TypeVar("R")
Conn = AsyncConnection[Any]

SETTLED_STATUS = "finalized"
# Money (balances, fees, costs, P&L) as migration 0005_money_precision stores it: the 6
# decimals Kalshi sends (reference A3). Prices stay numeric(10,4), counts numeric(18,2).
MONEY = "numeric(20,6)"

MARKETS = Scd2Table(
    name="markets",
    key_id="market_id",
    business_key=(Column("ticker", "text"),),
    tracked=(
        Column("event_id", "bigint"),
        Column("title", "text"),
        Column("subtitle", "text"),
        Column("status", "text"),
        Column("yes_bid", "numeric(10,4)"),
        Column("yes_ask", "numeric(10,4)"),
        Column("no_bid", "numeric(10,4)"),
        Column("no_ask", "numeric(10,4)"),
        Column("last_price", "numeric(10,4)"),
        Column("volume", "numeric(18,2)"),
        Column("open_interest", "numeric(18,2)"),
        Column("open_time", "timestamptz"),
        Column("close_time", "timestamptz"),
        Column("result", "text"),
        Column("settlement_value", "numeric(10,4)"),
    ),
)
BALANCES = Scd2Table(
    name="account_balance",
    key_id="balance_key_id",
    business_key=(Column("platform_id", "bigint"),),
    tracked=(Column("balance", MONEY), Column("portfolio_value", MONEY)),
)
POSITIONS = Scd2Table(
    name="positions",
    key_id="position_key_id",
    business_key=(
        Column("platform_id", "bigint"),
        Column("ticker", "text"),
        Column("side", "text"),
    ),
    tracked=(
        Column("quantity", "numeric(18,2)"),
        Column("market_exposure", MONEY),
        Column("total_traded", MONEY),
        Column("realized_pnl", MONEY),
        Column("fees_paid", MONEY),
    ),
)
GAME_STATES = Scd2Table(
    name="game_states",
    key_id="game_key_id",
    business_key=(Column("league", "text"), Column("espn_event_id", "text")),
    tracked=(
        Column("home_team_id", "bigint"),
        Column("away_team_id", "bigint"),
        Column("venue_id", "bigint"),
        Column("start_time", "timestamptz"),
        Column("season_type", "text"),
        Column("status", "text"),
        Column("period", "integer"),
        Column("clock_seconds", "numeric(10,2)"),
        Column("display_clock", "text"),
        Column("home_score", "integer"),
        Column("away_score", "integer"),
        Column("situation", "jsonb"),
    ),
)
SCD2_TABLES = (MARKETS, BALANCES, POSITIONS, GAME_STATES)

_WRITERS = {table.name: Scd2Writer(table) for table in SCD2_TABLES}


async def _write(conn: Conn, table: Scd2Table, observations: Sequence[Observation]) -> UpsertResult:
    """The SCD2 writer, after refusing values the database could not store exactly."""
    check_observations(table, observations)
    return await _WRITERS[table.name].upsert(conn, observations)


# ---------------------------------------------------------------- plumbing


def _describe(conn: Conn) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


async def _transaction(conn: Conn, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` in one transaction; typed errors out, deadlocks retried when we own it."""

    async def attempt() -> T:
        async with conn.transaction():
            return await work()

    try:
        if conn.info.transaction_status == TransactionStatus.IDLE:
            return await retry_async(
                attempt, policy=DEFAULT_RETRY, is_retryable=is_retryable_conflict
            )
        return await attempt()
    except (psycopg.Error, UnicodeEncodeError) as exc:
        translated = translate_error(exc, _describe(conn))
        if translated is None:
            raise
        raise translated from exc


async def _read(conn: Conn, work: Callable[[], Awaitable[T]]) -> T:
    try:
        return await work()
    except (psycopg.Error, UnicodeEncodeError) as exc:
        translated = translate_error(exc, _describe(conn))
        if translated is None:
            raise
        raise translated from exc


def _columns(record: type[Any], alias: str | None = None) -> sql.Composable:
    names = [f.name for f in dataclasses.fields(record)]
    if alias is None:
        return sql.SQL(", ").join(sql.Identifier(n) for n in names)
    return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)


async def _fetch(conn: Conn, record: type[R], query: sql.Composed, params: Any) -> list[R]:
    async def run() -> list[R]:
        cur = conn.cursor(row_factory=class_row(record))
        await cur.execute(query, params)
        return await cur.fetchall()

    return await _read(conn, run)


async def _fetch_one(conn: Conn, record: type[R], query: sql.Composed, params: Any) -> R | None:
    rows = await _fetch(conn, record, query, params)
    return rows[0] if rows else None


def _unnest(columns: Sequence[Column]) -> sql.Composable:
    arrays = sql.SQL(", ").join(
        sql.SQL("%s::{}").format(sql.SQL("text[]" if c.is_json else f"{c.sql_type}[]"))
        for c in columns
    )
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return sql.SQL("unnest({}) AS i({})").format(arrays, names)


def _arrays(columns: Sequence[Column], rows: Sequence[Any]) -> list[list[Any]]:
    return [[sql_param(c, getattr(row, c.name)) for row in rows] for c in columns]


async def platform_id(conn: Conn, code: str) -> int:
    """Id of a seeded platform (`kalshi`, `espn`); unknown codes are a FK error."""
    cur = await conn.execute("SELECT platform_id FROM platforms WHERE code = %s", (code,))
    row = await cur.fetchone()
    if row is None:
        raise ForeignKeyViolationError(
            table="platforms",
            column="code",
            constraint=None,
            detail=f"unknown platform {code!r}; run `precog db upgrade` to seed platforms",
        )
    return int(row[0])


async def _platform_ids(conn: Conn, codes: Iterable[str]) -> dict[str, int]:
    return {code: await platform_id(conn, code) for code in sorted(set(codes))}
