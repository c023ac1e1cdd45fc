"""The SCD2 writer's patches of current versions (settlement finalisation) and its guard
against observations whose key the database changed, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.crud_operations import GAME_STATES, MARKETS
from precog.database.records import GameStateSnapshot, MarketSnapshot
from precog.database.scd2 import (
    Column,
    Observation,
    Patch,
    Scd2Table,
    Scd2Writer,
    UnencodableValueError,
    UpsertResult,
)

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
SETTLED = {"status": "finalized", "result": "yes", "settlement_value": Decimal("1.0000")}


def snap(ticker: str, at: int, bid: str = "0.40") -> MarketSnapshot:
    return MarketSnapshot(ticker=ticker, event_ticker="EV", series_ticker="SER",
                          status="active", observed_at=T0 + timedelta(seconds=at),
                          yes_bid=Decimal(bid), yes_ask=Decimal("0.45"))  # fmt: skip


async def _versions(conn: psycopg.AsyncConnection, ticker: str) -> list[tuple[object, ...]]:
    """(status, result, settlement_value, yes_bid, yes_ask, start, end, observed, current)."""
    cur = await conn.execute(
        "SELECT status, result, settlement_value, yes_bid, yes_ask, row_start_ts, row_end_ts, "
        "row_observed_ts, row_current_ind FROM markets WHERE ticker = %s ORDER BY row_start_ts",
        (ticker,),
    )
    return await cur.fetchall()


async def test_a_patch_is_a_new_version_of_the_current_one_with_the_other_values_kept(
    db_pool: Database,
) -> None:
    """Not before its own time, and never before the version's last confirmation."""
    writer = Scd2Writer(MARKETS)
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap("LATE", 0), snap("LATE", 10)])
        await crud.upsert_markets(conn, [snap("EARLY", 0), snap("EARLY", 10)])
        late = await writer.patch_current(
            conn, [Patch(("LATE",), SETTLED, T0 + timedelta(seconds=60))]
        )
        early = await writer.patch_current(conn, [Patch(("EARLY",), SETTLED, T0)])
        late_versions = await _versions(conn, "LATE")
        early_versions = await _versions(conn, "EARLY")
    assert late == early == UpsertResult(updated=1)
    quotes = (Decimal("0.4000"), Decimal("0.4500"))
    at_60 = T0 + timedelta(seconds=60)
    assert late_versions == [
        ("active", None, None, *quotes, T0, at_60, T0 + timedelta(seconds=10), False),
        ("finalized", "yes", Decimal("1.0000"), *quotes, at_60, None, at_60, True),
    ]
    # settled "at T0", but the market was seen active at T0+10 s: the patch follows that
    after = T0 + timedelta(seconds=10) + US
    assert early_versions == [
        ("active", None, None, *quotes, T0, after, T0 + timedelta(seconds=10), False),
        ("finalized", "yes", Decimal("1.0000"), *quotes, after, None, after, True),
    ]


async def test_patches_of_several_keys_skip_the_ones_already_patched_and_unknown_keys(
    db_pool: Database,
) -> None:
    writer = Scd2Writer(MARKETS)
    tickers = ["DONE1", "TODO1", "DONE2", "TODO2"]
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap(t, 0) for t in tickers])
        done = [Patch((t,), SETTLED, T0 + timedelta(seconds=5)) for t in ("DONE1", "DONE2")]
        assert await writer.patch_current(conn, done) == UpsertResult(updated=2)
        patches = [Patch((t,), SETTLED, T0 + timedelta(seconds=9)) for t in [*tickers, "UNKNOWN"]]
        result = await writer.patch_current(conn, patches)
        again = await writer.patch_current(conn, patches)
        empty = await writer.patch_current(conn, [])
        states = {t: [v[0] for v in await _versions(conn, t)] for t in [*tickers, "UNKNOWN"]}
    assert result == UpsertResult(updated=2, unchanged=2)  # the unknown key is left alone
    assert again == UpsertResult(unchanged=4)
    assert empty == UpsertResult()
    assert states == {
        "DONE1": ["active", "finalized"],
        "TODO1": ["active", "finalized"],
        "DONE2": ["active", "finalized"],
        "TODO2": ["active", "finalized"],
        "UNKNOWN": [],
    }


async def test_a_patch_keeps_json_values_exactly(db_pool: Database) -> None:
    """A jsonb value read back as text is written back as the same JSON, not as a string."""
    situation = {"down": 3, "distance": Decimal("7.5"), "possession": "home"}
    writer = Scd2Writer(GAME_STATES)
    snapshots = [
        GameStateSnapshot(
            league="nfl",
            espn_event_id=event,
            status="in_progress",
            observed_at=T0,
            period=4,
            situation=value,
        )
        for event, value in (("401", situation), ("402", None))
    ]
    final = {"status": "final"}
    async with db_pool.connection() as conn:
        await crud.upsert_game_states(conn, snapshots)
        patches = [Patch(("nfl", e), final, T0 + timedelta(seconds=60)) for e in ("401", "402")]
        result = await writer.patch_current(conn, patches)
        cur = await conn.execute(
            "SELECT espn_event_id, status, period, situation, jsonb_typeof(situation) "
            "FROM game_states ORDER BY espn_event_id, row_start_ts"
        )
        rows = await cur.fetchall()
    assert result == UpsertResult(updated=2)
    as_stored = {"down": 3, "distance": Decimal("7.5"), "possession": "home"}
    assert rows == [
        ("401", "in_progress", 4, as_stored, "object"),
        ("401", "final", 4, as_stored, "object"),
        ("402", "in_progress", 4, None, None),
        ("402", "final", 4, None, None),
    ]


async def test_a_patch_with_a_naive_time_is_refused_before_anything_is_written(
    db_pool: Database,
) -> None:
    writer = Scd2Writer(MARKETS)
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap("A", 0)])
        good = Patch(("A",), SETTLED, T0 + timedelta(seconds=60))
        naive = Patch(("A",), SETTLED, datetime(2026, 10, 1, 13, 0))
        with pytest.raises(UnencodableValueError, match="naive datetime"):
            await writer.patch_current(conn, [good, naive])
        versions = await _versions(conn, "A")
    assert [v[0] for v in versions] == ["active"]


async def test_an_observation_whose_key_the_database_changed_is_an_error_not_a_loss(
    db_pool: Database,
) -> None:
    """A varchar(3) key column silently trims 'abc ' to 'abc', which no longer matches the
    observation: the batch fails naming the count instead of dropping the observation."""
    table = Scd2Table(
        "scd2_trimmed", "trimmed_id", (Column("code", "text"),), (Column("v", "integer"),)
    )
    async with db_pool.connection() as conn:
        await conn.execute(
            "CREATE TEMP TABLE scd2_trimmed_keys (trimmed_id bigserial PRIMARY KEY, "
            "code varchar(3) NOT NULL UNIQUE)"
        )
        await conn.execute(
            "CREATE TEMP TABLE scd2_trimmed (id bigserial PRIMARY KEY, trimmed_id bigint, "
            "code text, v integer, row_start_ts timestamptz, row_end_ts timestamptz, "
            "row_observed_ts timestamptz, row_current_ind boolean)"
        )
        writer = Scd2Writer(table)
        kept = await writer.upsert(conn, [Observation(("abc",), {"v": 1}, T0)])
        with pytest.raises(ValueError, match=r"^scd2_trimmed: 2 observations lost their key$"):
            await writer.upsert(
                conn,
                [
                    Observation(("xyz ",), {"v": 1}, T0),
                    Observation(("abc",), {"v": 2}, T0 + US),
                    Observation(("pq  ",), {"v": 1}, T0),
                ],
            )
        cur = await conn.execute("SELECT code, v FROM scd2_trimmed ORDER BY id")
        rows = await cur.fetchall()
    assert kept == UpsertResult(created=1)
    assert rows == [("abc", 1)]  # the failed batch wrote nothing, not even its good row
