"""The data-access API for every table of SPEC §4.

Write side (each call is one transaction; it retries deadlocks when it owns the
transaction and joins the caller's transaction otherwise):
- SCD2 tables through the one writer in `scd2.py`: `upsert_markets` (creating the series
  and events a market needs from the snapshot), `upsert_balances`, `upsert_positions`,
  `upsert_game_states`; all return `UpsertResult(created, updated, unchanged, stale)`;
- positions the venue stopped reporting (settled, closed): `close_missing_positions`;
- append-only, idempotent on the venue's id: `insert_fills`, `insert_settlements` (a new
  settlement also moves its market to `finalized` with the result);
- reference data: `upsert_series`, `upsert_events`, `upsert_teams`, `upsert_venues`,
  `upsert_rankings` (insert or update in place, returning ids).
Read side: current row, full history, and the state at a point in time for every SCD2
table; lookups and listings for the rest. Rows come back as the frozen records of
`records.py`.

Failures: NOT NULL / FK / CHECK / UNIQUE violations raise the typed errors of
`precog.database.errors` naming table and column; the whole call is rolled back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from precog.database.connection import translate_error
from precog.database.errors import ForeignKeyViolationError
from precog.database.input_checks import check_key, check_observations, check_rows
from precog.database.records import (
    BalanceRow,
    BalanceSnapshot,
    EventInput,
    FillInput,
    FillRow,
    GameStateRow,
    GameStateSnapshot,
    InsertResult,
    MarketRow,
    MarketSnapshot,
    PositionRow,
    PositionSnapshot,
    RankingInput,
    RankingRow,
    SeriesInput,
    SettlementInput,
    SettlementRow,
    TeamInput,
    TeamRow,
    VenueInput,
    VenueRow,
)
from precog.database.scd2 import (
    DEFAULT_RETRY,
    Column,
    Observation,
    Patch,
    Scd2Table,
    Scd2Writer,
    UpsertResult,
    is_retryable_conflict,
    sql_param,
)
from precog.errors import ConfigError
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


# ---------------------------------------------------------------- series and events


async def _ensure_series(
    conn: Conn, pid: int, series: Sequence[SeriesInput], *, update: bool
) -> dict[str, int]:
    series = sorted({s.ticker: s for s in series}.values(), key=lambda s: s.ticker)
    cols = [Column("ticker", "text"), Column("title", "text"), Column("category", "text"),
            Column("frequency", "text")]  # fmt: skip
    conflict = (
        "DO UPDATE SET title = EXCLUDED.title, category = EXCLUDED.category, "
        "frequency = EXCLUDED.frequency, updated_at = now() WHERE "
        "(series.title, series.category, series.frequency) IS DISTINCT FROM "
        "(EXCLUDED.title, EXCLUDED.category, EXCLUDED.frequency)"
        if update
        else "DO NOTHING"
    )
    await conn.execute(
        sql.SQL(
            "INSERT INTO series (platform_id, ticker, title, category, frequency) "
            "SELECT %s, i.ticker, i.title, i.category, i.frequency FROM {} ORDER BY i.ticker "
            "ON CONFLICT (platform_id, ticker) "
        ).format(_unnest(cols))
        + sql.SQL(conflict),  # constant text of this module
        [pid, *_arrays(cols, series)],
    )
    cur = await conn.execute(
        "SELECT ticker, series_id FROM series WHERE platform_id = %s AND ticker = ANY(%s)",
        (pid, [s.ticker for s in series]),
    )
    return {str(t): int(i) for t, i in await cur.fetchall()}


async def _ensure_events(
    conn: Conn, pid: int, events: Sequence[EventInput], *, update: bool
) -> dict[str, int]:
    events = sorted({e.event_ticker: e for e in events}.values(), key=lambda e: e.event_ticker)
    series_ids = await _ensure_series(
        conn, pid, [SeriesInput(e.series_ticker) for e in events], update=False
    )
    cols = [
        Column("event_ticker", "text"),
        Column("series_id", "bigint"),
        Column("title", "text"),
        Column("sub_title", "text"),
        Column("category", "text"),
        Column("strike_date", "timestamptz"),
        Column("mutually_exclusive", "boolean"),
    ]
    rows = [
        [e.event_ticker for e in events],
        [series_ids[e.series_ticker] for e in events],
        [e.title for e in events],
        [e.sub_title for e in events],
        [e.category for e in events],
        [e.strike_date for e in events],
        [e.mutually_exclusive for e in events],
    ]
    conflict = (
        "DO UPDATE SET title = EXCLUDED.title, sub_title = EXCLUDED.sub_title, "
        "category = EXCLUDED.category, strike_date = EXCLUDED.strike_date, "
        "mutually_exclusive = EXCLUDED.mutually_exclusive, updated_at = now()"
        if update
        else "DO NOTHING"
    )
    await conn.execute(
        sql.SQL(
            "INSERT INTO events (platform_id, event_ticker, series_id, title, sub_title, "
            "category, strike_date, mutually_exclusive) SELECT %s, i.event_ticker, i.series_id, "
            "i.title, i.sub_title, i.category, i.strike_date, i.mutually_exclusive FROM {} "
            "ORDER BY i.event_ticker ON CONFLICT (platform_id, event_ticker) "
        ).format(_unnest(cols))
        + sql.SQL(conflict),  # constant text of this module
        [pid, *rows],
    )
    cur = await conn.execute(
        "SELECT event_ticker, event_id FROM events WHERE platform_id = %s "
        "AND event_ticker = ANY(%s)",
        (pid, [e.event_ticker for e in events]),
    )
    return {str(t): int(i) for t, i in await cur.fetchall()}


async def upsert_series(
    conn: Conn, series: Sequence[SeriesInput], *, platform: str = "kalshi"
) -> dict[str, int]:
    """Insert or update series; returns ticker -> series_id."""
    if not series:
        return {}

    async def work() -> dict[str, int]:
        return await _ensure_series(conn, await platform_id(conn, platform), series, update=True)

    return await _transaction(conn, work)


async def upsert_events(
    conn: Conn, events: Sequence[EventInput], *, platform: str = "kalshi"
) -> dict[str, int]:
    """Insert or update events (creating unknown series); returns event_ticker -> event_id."""
    if not events:
        return {}

    async def work() -> dict[str, int]:
        return await _ensure_events(conn, await platform_id(conn, platform), events, update=True)

    return await _transaction(conn, work)


# ---------------------------------------------------------------- markets


async def upsert_markets(
    conn: Conn, snapshots: Sequence[MarketSnapshot], *, platform: str = "kalshi"
) -> UpsertResult:
    """Write market snapshots as SCD2 versions; unknown series/events are created first."""
    if not snapshots:
        return UpsertResult()

    async def work() -> UpsertResult:
        pid = await platform_id(conn, platform)
        await _ensure_series(
            conn,
            pid,
            [SeriesInput(s.series_ticker, title=s.series_title) for s in snapshots],
            update=False,
        )
        event_ids = await _ensure_events(
            conn,
            pid,
            [EventInput(s.event_ticker, s.series_ticker, title=s.event_title) for s in snapshots],
            update=False,
        )
        observations = []
        for snap in snapshots:
            values = {
                c.name: getattr(snap, c.name) for c in MARKETS.tracked if c.name != "event_id"
            }
            values["event_id"] = event_ids[snap.event_ticker]
            observations.append(Observation((snap.ticker,), values, snap.observed_at))
        return await _write(conn, MARKETS, observations)

    return await _transaction(conn, work)


_MARKET_COLS = _columns(MarketRow)


async def get_current_market(conn: Conn, ticker: str) -> MarketRow | None:
    query = sql.SQL("SELECT {} FROM markets WHERE ticker = %s AND row_current_ind").format(
        _MARKET_COLS
    )
    return await _fetch_one(conn, MarketRow, query, (ticker,))


async def get_market_history(conn: Conn, ticker: str) -> list[MarketRow]:
    """Every version of a market, oldest first."""
    query = sql.SQL(
        "SELECT {} FROM markets WHERE market_id = "
        "(SELECT market_id FROM markets_keys WHERE ticker = %s) ORDER BY row_start_ts"
    ).format(_MARKET_COLS)
    return await _fetch(conn, MarketRow, query, (ticker,))


async def get_market_at(conn: Conn, ticker: str, at: datetime) -> MarketRow | None:
    """The version of a market that was valid at `at` (None before its first observation)."""
    query = sql.SQL(
        "SELECT {} FROM markets WHERE market_id = "
        "(SELECT market_id FROM markets_keys WHERE ticker = %s) "
        "AND tstzrange(row_start_ts, row_end_ts, '[)') @> %s::timestamptz"
    ).format(_MARKET_COLS)
    return await _fetch_one(conn, MarketRow, query, (ticker, at))


async def list_current_markets(
    conn: Conn, *, status: str | None = None, event_ticker: str | None = None
) -> list[MarketRow]:
    query = sql.SQL(
        "SELECT {} FROM markets m WHERE m.row_current_ind "
        "AND (%(status)s::text IS NULL OR m.status = %(status)s) "
        "AND (%(event)s::text IS NULL OR m.event_id IN "
        "(SELECT event_id FROM events WHERE event_ticker = %(event)s)) "
        "ORDER BY m.ticker"
    ).format(_columns(MarketRow, "m"))
    return await _fetch(conn, MarketRow, query, {"status": status, "event": event_ticker})


# ---------------------------------------------------------------- balance and positions


async def upsert_balances(conn: Conn, snapshots: Sequence[BalanceSnapshot]) -> UpsertResult:
    if not snapshots:
        return UpsertResult()

    async def work() -> UpsertResult:
        pids = await _platform_ids(conn, (s.platform for s in snapshots))
        observations = [
            Observation(
                (pids[s.platform],),
                {"balance": s.balance, "portfolio_value": s.portfolio_value},
                s.observed_at,
            )
            for s in snapshots
        ]
        return await _write(conn, BALANCES, observations)

    return await _transaction(conn, work)


_BALANCE_FROM = sql.SQL(
    "SELECT {} FROM account_balance WHERE balance_key_id = (SELECT balance_key_id "
    "FROM account_balance_keys WHERE platform_id = "
    "(SELECT platform_id FROM platforms WHERE code = %s)) "
).format(_columns(BalanceRow))


async def get_current_balance(conn: Conn, platform: str = "kalshi") -> BalanceRow | None:
    query = _BALANCE_FROM + sql.SQL("AND row_current_ind")
    return await _fetch_one(conn, BalanceRow, query, (platform,))


async def get_balance_history(conn: Conn, platform: str = "kalshi") -> list[BalanceRow]:
    query = _BALANCE_FROM + sql.SQL("ORDER BY row_start_ts")
    return await _fetch(conn, BalanceRow, query, (platform,))


async def get_balance_at(conn: Conn, at: datetime, platform: str = "kalshi") -> BalanceRow | None:
    query = _BALANCE_FROM + sql.SQL(
        "AND tstzrange(row_start_ts, row_end_ts, '[)') @> %s::timestamptz"
    )
    return await _fetch_one(conn, BalanceRow, query, (platform, at))


async def upsert_positions(conn: Conn, snapshots: Sequence[PositionSnapshot]) -> UpsertResult:
    if not snapshots:
        return UpsertResult()

    async def work() -> UpsertResult:
        pids = await _platform_ids(conn, (s.platform for s in snapshots))
        tracked = POSITIONS.tracked_names
        observations = [
            Observation(
                (pids[s.platform], s.ticker, s.side),
                {name: getattr(s, name) for name in tracked},
                s.observed_at,
            )
            for s in snapshots
        ]
        return await _write(conn, POSITIONS, observations)

    return await _transaction(conn, work)


async def close_missing_positions(
    conn: Conn,
    reported: Iterable[tuple[str, str]],
    observed_at: datetime,
    *,
    platform: str = "kalshi",
) -> UpsertResult:
    """Close every open position the venue no longer reports: a new version with quantity
    and exposure 0 (P&L, fees and traded totals kept) at `observed_at`.

    `reported` holds the (ticker, side) pairs of the venue's complete, successfully read
    answer. Kalshi drops settled positions from its default positions answer (reference
    A4.10), so a position that vanished was settled or closed: without this it would stay
    open forever. The one path for `precog fetch positions` and the account collector.
    """
    seen = set(reported)

    async def work() -> UpsertResult:
        open_rows = [
            row
            for row in await get_current_positions(conn, platform)
            if row.quantity != 0 and (row.ticker, row.side) not in seen
        ]
        if not open_rows:
            return UpsertResult()
        values = [
            {
                "quantity": Decimal("0.00"),
                "market_exposure": Decimal(0),
                "total_traded": row.total_traded,
                "realized_pnl": row.realized_pnl,
                "fees_paid": row.fees_paid,
            }
            for row in open_rows
        ]
        observations = [
            Observation((row.platform_id, row.ticker, row.side), value, observed_at)
            for row, value in zip(open_rows, values, strict=True)
        ]
        return await _write(conn, POSITIONS, observations)

    return await _transaction(conn, work)


_POSITION_FROM = sql.SQL(
    "SELECT {} FROM positions WHERE position_key_id = (SELECT position_key_id "
    "FROM positions_keys WHERE platform_id = (SELECT platform_id FROM platforms WHERE code = %s) "
    "AND ticker = %s AND side = %s) "
).format(_columns(PositionRow))


async def get_current_positions(conn: Conn, platform: str = "kalshi") -> list[PositionRow]:
    query = sql.SQL(
        "SELECT {} FROM positions WHERE row_current_ind AND platform_id = "
        "(SELECT platform_id FROM platforms WHERE code = %s) ORDER BY ticker, side"
    ).format(_columns(PositionRow))
    return await _fetch(conn, PositionRow, query, (platform,))


async def get_current_position(
    conn: Conn, ticker: str, side: str, platform: str = "kalshi"
) -> PositionRow | None:
    query = _POSITION_FROM + sql.SQL("AND row_current_ind")
    return await _fetch_one(conn, PositionRow, query, (platform, ticker, side))


async def get_position_history(
    conn: Conn, ticker: str, side: str, platform: str = "kalshi"
) -> list[PositionRow]:
    query = _POSITION_FROM + sql.SQL("ORDER BY row_start_ts")
    return await _fetch(conn, PositionRow, query, (platform, ticker, side))


async def get_position_at(
    conn: Conn, ticker: str, side: str, at: datetime, platform: str = "kalshi"
) -> PositionRow | None:
    query = _POSITION_FROM + sql.SQL(
        "AND tstzrange(row_start_ts, row_end_ts, '[)') @> %s::timestamptz"
    )
    return await _fetch_one(conn, PositionRow, query, (platform, ticker, side, at))


# ---------------------------------------------------------------- fills and settlements


async def _ensure_market_keys(conn: Conn, tickers: Iterable[str]) -> None:
    await conn.execute(
        "INSERT INTO markets_keys (ticker) SELECT t FROM unnest(%s::text[]) AS t "
        "ORDER BY t ON CONFLICT DO NOTHING",
        (sorted(set(tickers)),),
    )


_FILL_COLS = [
    Column("platform_id", "bigint"),
    Column("venue_fill_id", "text"),
    Column("order_id", "text"),
    Column("ticker", "text"),
    Column("outcome_side", "text"),
    Column("book_side", "text"),
    Column("action", "text"),
    Column("count", "numeric(18,2)"),
    Column("yes_price", "numeric(10,4)"),
    Column("no_price", "numeric(10,4)"),
    Column("fee_cost", MONEY),
    Column("is_taker", "boolean"),
    Column("created_time", "timestamptz"),
]


async def insert_fills(conn: Conn, fills: Sequence[FillInput]) -> InsertResult:
    """Append fills; a fill whose venue id is already stored is skipped (idempotent)."""
    if not fills:
        return InsertResult(0, 0)

    check_rows("fills", _FILL_COLS[1:], fills, keys=("venue_fill_id", "ticker"))

    async def work() -> InsertResult:
        pids = await _platform_ids(conn, (f.platform for f in fills))
        await _ensure_market_keys(conn, (f.ticker for f in fills))
        arrays = _arrays(_FILL_COLS[1:], fills)
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in _FILL_COLS)
        cur = await conn.execute(
            sql.SQL(
                "WITH ins AS (INSERT INTO fills ({names}, market_id) "
                "SELECT {inames}, k.market_id FROM {unnest} JOIN markets_keys k "
                "ON k.ticker = i.ticker ORDER BY i.platform_id, i.venue_fill_id "
                "ON CONFLICT (platform_id, venue_fill_id) DO NOTHING RETURNING 1) "
                "SELECT count(*) FROM ins"
            ).format(
                names=names,
                inames=sql.SQL(", ").join(sql.Identifier("i", c.name) for c in _FILL_COLS),
                unnest=_unnest(_FILL_COLS),
            ),
            [[pids[f.platform] for f in fills], *arrays],
        )
        row = await cur.fetchone()
        inserted = int(row[0]) if row else 0
        return InsertResult(inserted=inserted, duplicates=len(fills) - inserted)

    return await _transaction(conn, work)


async def list_fills(conn: Conn, ticker: str | None = None) -> list[FillRow]:
    query = sql.SQL(
        "SELECT {} FROM fills WHERE (%(t)s::text IS NULL OR ticker = %(t)s) "
        "ORDER BY created_time, fill_id"
    ).format(_columns(FillRow))
    return await _fetch(conn, FillRow, query, {"t": ticker})


_SETTLEMENT_COLS = [
    Column("platform_id", "bigint"),
    Column("ticker", "text"),
    Column("event_ticker", "text"),
    Column("market_result", "text"),
    Column("yes_count", "numeric(18,2)"),
    Column("no_count", "numeric(18,2)"),
    Column("yes_total_cost", MONEY),
    Column("no_total_cost", MONEY),
    Column("revenue", MONEY),
    Column("fee_cost", MONEY),
    Column("value", "numeric(10,4)"),
    Column("settled_time", "timestamptz"),
]


async def insert_settlements(conn: Conn, settlements: Sequence[SettlementInput]) -> InsertResult:
    """Append settlements (idempotent per platform and ticker) and finalize their markets.

    A market with a current version gets a new `finalized` version carrying the result, at
    the settlement time — or just after its current version's last confirmation if that is
    later (history is never rewritten). The current version is read under the SCD2 writer's
    key lock, so a concurrent market update is never lost or reverted. Markets never
    observed keep only their key.
    """
    if not settlements:
        return InsertResult(0, 0)

    check_rows("settlements", _SETTLEMENT_COLS[1:], settlements, keys=("ticker",))

    async def work() -> InsertResult:
        pids = await _platform_ids(conn, (s.platform for s in settlements))
        await _ensure_market_keys(conn, (s.ticker for s in settlements))
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in _SETTLEMENT_COLS)
        cur = await conn.execute(
            sql.SQL(
                "INSERT INTO settlements ({names}, market_id) "
                "SELECT {inames}, k.market_id FROM {unnest} JOIN markets_keys k "
                "ON k.ticker = i.ticker ORDER BY i.platform_id, i.ticker "
                "ON CONFLICT (platform_id, ticker) DO NOTHING "
                "RETURNING ticker, market_result, value, settled_time"
            ).format(
                names=names,
                inames=sql.SQL(", ").join(sql.Identifier("i", c.name) for c in _SETTLEMENT_COLS),
                unnest=_unnest(_SETTLEMENT_COLS),
            ),
            [[pids[s.platform] for s in settlements], *_arrays(_SETTLEMENT_COLS[1:], settlements)],
        )
        new = await cur.fetchall()
        await _finalize_markets(conn, new)
        return InsertResult(inserted=len(new), duplicates=len(settlements) - len(new))

    return await _transaction(conn, work)


async def _finalize_markets(conn: Conn, settled: Sequence[tuple[Any, ...]]) -> None:
    # Through the writer's key lock: the current version is read only once no concurrent
    # writer of the market can still change it.
    patches = []
    for ticker, result, value, settled_time in settled:
        changes: dict[str, Any] = {"status": SETTLED_STATUS, "result": result}
        if value is not None:
            changes["settlement_value"] = value
        patches.append(Patch((str(ticker),), changes, settled_time))
    await _WRITERS["markets"].patch_current(conn, patches)


async def list_settlements(conn: Conn, ticker: str | None = None) -> list[SettlementRow]:
    query = sql.SQL(
        "SELECT {} FROM settlements WHERE (%(t)s::text IS NULL OR ticker = %(t)s) "
        "ORDER BY settled_time, settlement_id"
    ).format(_columns(SettlementRow))
    return await _fetch(conn, SettlementRow, query, {"t": ticker})


# ---------------------------------------------------------------- teams, venues, rankings


_TEAM_COLS = [Column(f.name, "text") for f in dataclasses.fields(TeamInput)]
_VENUE_COLS = [
    *(Column(n, "text") for n in ("espn_venue_id", "name", "city", "state", "country")),
    Column("indoor", "boolean"),
]


async def _upsert_reference(
    conn: Conn,
    table: str,
    columns: Sequence[Column],
    conflict: Sequence[str],
    rows: Sequence[Any],
) -> None:
    key = [c for c in columns if c.name in conflict]
    rest = [c for c in columns if c.name not in conflict]
    ident = sql.Identifier
    order = sql.SQL(", ").join(ident("i", c.name) for c in key)
    set_list = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(ident(c.name), ident(c.name)) for c in rest
    )
    old = sql.SQL(", ").join(ident(table, c.name) for c in rest)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c.name)) for c in rest)
    await conn.execute(
        sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {icols} FROM {unnest} ORDER BY {order} "
            "ON CONFLICT ({conflict}) DO UPDATE SET {set_list}, updated_at = now() "
            "WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
        ).format(
            table=ident(table),
            cols=sql.SQL(", ").join(ident(c.name) for c in columns),
            icols=sql.SQL(", ").join(ident("i", c.name) for c in columns),
            unnest=_unnest(columns),
            order=order,
            conflict=sql.SQL(", ").join(ident(n) for n in conflict),
            set_list=set_list,
            old=old,
            new=new,
        ),
        _arrays(columns, rows),
    )


async def upsert_teams(conn: Conn, teams: Sequence[TeamInput]) -> dict[tuple[str, str], int]:
    """Insert or update teams; returns (league, espn_team_id) -> team_id."""
    if not teams:
        return {}
    unique = list({(t.league, t.espn_team_id): t for t in teams}.values())

    async def work() -> dict[tuple[str, str], int]:
        await _upsert_reference(conn, "teams", _TEAM_COLS, ("league", "espn_team_id"), unique)
        cur = await conn.execute(
            "SELECT t.league, t.espn_team_id, t.team_id FROM teams t JOIN "
            "unnest(%s::text[], %s::text[]) AS i(league, espn_team_id) "
            "USING (league, espn_team_id)",
            ([t.league for t in unique], [t.espn_team_id for t in unique]),
        )
        return {(str(lg), str(e)): int(i) for lg, e, i in await cur.fetchall()}

    return await _transaction(conn, work)


async def get_team(conn: Conn, league: str, espn_team_id: str) -> TeamRow | None:
    query = sql.SQL("SELECT {} FROM teams WHERE league = %s AND espn_team_id = %s").format(
        _columns(TeamRow)
    )
    return await _fetch_one(conn, TeamRow, query, (league, espn_team_id))


async def list_teams(conn: Conn, league: str | None = None) -> list[TeamRow]:
    query = sql.SQL(
        "SELECT {} FROM teams WHERE (%(l)s::text IS NULL OR league = %(l)s) "
        "ORDER BY league, espn_team_id"
    ).format(_columns(TeamRow))
    return await _fetch(conn, TeamRow, query, {"l": league})


async def upsert_venues(conn: Conn, venues: Sequence[VenueInput]) -> dict[str, int]:
    """Insert or update venues; returns espn_venue_id -> venue_id."""
    if not venues:
        return {}
    unique = list({v.espn_venue_id: v for v in venues}.values())

    async def work() -> dict[str, int]:
        await _upsert_reference(conn, "venues", _VENUE_COLS, ("espn_venue_id",), unique)
        cur = await conn.execute(
            "SELECT espn_venue_id, venue_id FROM venues WHERE espn_venue_id = ANY(%s)",
            ([v.espn_venue_id for v in unique],),
        )
        return {str(e): int(i) for e, i in await cur.fetchall()}

    return await _transaction(conn, work)


async def get_venue(conn: Conn, espn_venue_id: str) -> VenueRow | None:
    query = sql.SQL("SELECT {} FROM venues WHERE espn_venue_id = %s").format(_columns(VenueRow))
    return await _fetch_one(conn, VenueRow, query, (espn_venue_id,))


_RANKING_COLS = [
    Column("team_id", "bigint"),
    Column("poll", "text"),
    Column("season", "integer"),
    Column("week", "integer"),
    Column("rank", "integer"),
    Column("ranked_at", "timestamptz"),
]


async def upsert_rankings(conn: Conn, rankings: Sequence[RankingInput]) -> int:
    """Insert rankings (one per team, poll, season, week; a re-sent one updates); returns count."""
    if not rankings:
        return 0
    unique = list({(r.team_id, r.poll, r.season, r.week): r for r in rankings}.values())

    async def work() -> int:
        cur = await conn.execute(
            sql.SQL(
                "WITH up AS (INSERT INTO team_rankings (team_id, poll, season, week, rank, "
                "ranked_at) SELECT i.team_id, i.poll, i.season, i.week, i.rank, i.ranked_at "
                "FROM {} ORDER BY i.team_id, i.poll, i.season, i.week "
                "ON CONFLICT ON CONSTRAINT uq_team_rankings_team_poll_week DO UPDATE SET "
                "rank = EXCLUDED.rank, ranked_at = EXCLUDED.ranked_at RETURNING 1) "
                "SELECT count(*) FROM up"
            ).format(_unnest(_RANKING_COLS)),
            _arrays(_RANKING_COLS, unique),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    return await _transaction(conn, work)


async def list_rankings(
    conn: Conn, poll: str, season: int, week: int | None = None
) -> list[RankingRow]:
    query = sql.SQL(
        "SELECT {} FROM team_rankings WHERE poll = %s AND season = %s "
        "AND week IS NOT DISTINCT FROM %s ORDER BY rank, team_id"
    ).format(_columns(RankingRow))
    return await _fetch(conn, RankingRow, query, (poll, season, week))


# ---------------------------------------------------------------- game states


async def upsert_game_states(conn: Conn, snapshots: Sequence[GameStateSnapshot]) -> UpsertResult:
    if not snapshots:
        return UpsertResult()
    tracked = GAME_STATES.tracked_names
    observations = [
        Observation((s.league, s.espn_event_id), {n: getattr(s, n) for n in tracked}, s.observed_at)
        for s in snapshots
    ]

    async def work() -> UpsertResult:
        return await _write(conn, GAME_STATES, observations)

    return await _transaction(conn, work)


_GAME_FROM = sql.SQL(
    "SELECT {} FROM game_states WHERE game_key_id = (SELECT game_key_id FROM game_states_keys "
    "WHERE league = %s AND espn_event_id = %s) "
).format(_columns(GameStateRow))


async def get_current_game_state(
    conn: Conn, league: str, espn_event_id: str
) -> GameStateRow | None:
    query = _GAME_FROM + sql.SQL("AND row_current_ind")
    return await _fetch_one(conn, GameStateRow, query, (league, espn_event_id))


async def get_game_state_history(conn: Conn, league: str, espn_event_id: str) -> list[GameStateRow]:
    query = _GAME_FROM + sql.SQL("ORDER BY row_start_ts")
    return await _fetch(conn, GameStateRow, query, (league, espn_event_id))


async def get_game_state_at(
    conn: Conn, league: str, espn_event_id: str, at: datetime
) -> GameStateRow | None:
    query = _GAME_FROM + sql.SQL("AND tstzrange(row_start_ts, row_end_ts, '[)') @> %s::timestamptz")
    return await _fetch_one(conn, GameStateRow, query, (league, espn_event_id, at))


async def list_current_game_states(
    conn: Conn, *, league: str | None = None, status: str | None = None
) -> list[GameStateRow]:
    query = sql.SQL(
        "SELECT {} FROM game_states WHERE row_current_ind "
        "AND (%(l)s::text IS NULL OR league = %(l)s) "
        "AND (%(s)s::text IS NULL OR status = %(s)s) ORDER BY league, espn_event_id"
    ).format(_columns(GameStateRow))
    return await _fetch(conn, GameStateRow, query, {"l": league, "s": status})


# ---------------------------------------------------------------- any SCD2 table by name


SCD2_KEY_FIELDS = {
    "markets": ("ticker",),
    "account_balance": ("platform",),
    "positions": ("ticker", "side", "platform"),
    "game_states": ("league", "espn_event_id"),
}
SCD2_KEY_HELP = {
    "markets": "TICKER",
    "account_balance": "[PLATFORM]",
    "positions": "TICKER SIDE [PLATFORM]",
    "game_states": "LEAGUE ESPN_EVENT_ID",
}


async def scd2_history(
    conn: Conn, table: str, key: Sequence[str], *, at: datetime | None = None
) -> list[Any]:
    """History of one business key of any SCD2 table (or its version valid at `at`)."""
    p = list(key)
    for field, part in zip(SCD2_KEY_FIELDS.get(table, ()), p, strict=False):
        check_key(table, field, part)  # an impossible key is bad input, not a database error
    history: Callable[[], Awaitable[list[Any]]] | None = None
    at_time: Callable[[datetime], Awaitable[Any]] | None = None
    if table == "markets" and len(p) == 1:
        history = lambda: get_market_history(conn, p[0])  # noqa: E731
        at_time = lambda t: get_market_at(conn, p[0], t)  # noqa: E731
    elif table == "account_balance" and len(p) <= 1:
        platform = p[0] if p else "kalshi"
        history = lambda: get_balance_history(conn, platform)  # noqa: E731
        at_time = lambda t: get_balance_at(conn, t, platform)  # noqa: E731
    elif table == "positions" and len(p) in (2, 3):
        venue = p[2] if len(p) == 3 else "kalshi"
        history = lambda: get_position_history(conn, p[0], p[1], venue)  # noqa: E731
        at_time = lambda t: get_position_at(conn, p[0], p[1], t, venue)  # noqa: E731
    elif table == "game_states" and len(p) == 2:
        history = lambda: get_game_state_history(conn, p[0], p[1])  # noqa: E731
        at_time = lambda t: get_game_state_at(conn, p[0], p[1], t)  # noqa: E731
    if history is None or at_time is None:
        expected = SCD2_KEY_HELP.get(table)
        if expected is None:
            tables = ", ".join(SCD2_KEY_HELP)
            raise ConfigError(f"{table!r} is not an SCD2 table; use one of: {tables}")
        raise ConfigError(f"{table} needs the key {expected}, got {' '.join(p) or 'nothing'}")
    if at is None:
        return await history()
    row = await at_time(at)
    return [row] if row is not None else []
