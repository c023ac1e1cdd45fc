"""Series, events and markets (SCD2): what a market needs created from the venue's data, and
its current row, history and state at a point in time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from psycopg import sql

from precog.database.crud_operations._common import (
    MARKETS,
    Conn,
    _arrays,
    _columns,
    _fetch,
    _fetch_one,
    _transaction,
    _unnest,
    _write,
    platform_id,
)
from precog.database.records import EventInput, MarketRow, MarketSnapshot, SeriesInput
from precog.database.scd2 import Column, Observation, UpsertResult

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
