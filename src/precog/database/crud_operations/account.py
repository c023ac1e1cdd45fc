"""Account state: balance and positions (SCD2; positions the venue stopped reporting are
closed), fills and settlements (append-only, idempotent on the venue's id; a settlement
finalises its market through the SCD2 writer's key lock)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import sql

from precog.database.crud_operations._common import (
    _WRITERS,
    BALANCES,
    MONEY,
    POSITIONS,
    SETTLED_STATUS,
    Conn,
    _arrays,
    _columns,
    _fetch,
    _fetch_one,
    _platform_ids,
    _transaction,
    _unnest,
    _write,
)
from precog.database.input_checks import check_rows
from precog.database.records import (
    BalanceRow,
    BalanceSnapshot,
    FillInput,
    FillRow,
    InsertResult,
    PositionRow,
    PositionSnapshot,
    SettlementInput,
    SettlementRow,
)
from precog.database.scd2 import Column, Observation, Patch, UpsertResult

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
