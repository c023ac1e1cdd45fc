"""The SCD2 writer's history against the real database: order, instants, exact values.

Each test names the defect of issue 11 it pins down (1: batching-dependent results,
2: wall-clock ordering, 4: inexact normalisation of tracked values).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.errors import InvalidValueError
from precog.database.records import GameStateSnapshot, MarketSnapshot, SettlementInput
from precog.database.scd2 import UpsertResult

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def snap(ticker: str, bid: str, at: datetime | int) -> MarketSnapshot:
    when = at if isinstance(at, datetime) else T0 + timedelta(seconds=at)
    return MarketSnapshot(ticker=ticker, event_ticker="EV", series_ticker="SER",
                          status="active", observed_at=when, yes_bid=Decimal(bid))  # fmt: skip


async def _history(conn: psycopg.AsyncConnection, ticker: str) -> list[tuple[object, ...]]:
    """(yes_bid, start, end) per version, oldest first."""
    cur = await conn.execute(
        "SELECT yes_bid, row_start_ts, row_end_ts FROM markets "
        "WHERE ticker = %s ORDER BY row_start_ts",
        (ticker,),
    )
    return await cur.fetchall()


async def _confirmed(conn: psycopg.AsyncConnection, ticker: str) -> list[datetime]:
    """row_observed_ts per version: the last observation that confirmed it."""
    cur = await conn.execute(
        "SELECT row_observed_ts FROM markets WHERE ticker = %s ORDER BY row_start_ts", (ticker,)
    )
    return [row[0] for row in await cur.fetchall()]


async def test_defect1_the_issue_reproduction_ends_at_the_newest_observation(
    db_pool: Database,
) -> None:
    """t=10 0.10, t=20 0.10, t=15 0.90 in three calls: the current row is 0.10 (t=20)."""
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap("A", "0.10", 10)])
        confirm = await crud.upsert_markets(conn, [snap("A", "0.10", 20)])
        late = await crud.upsert_markets(conn, [snap("A", "0.90", 15)])
        await crud.upsert_markets(conn, [snap("B", "0.10", 10), snap("B", "0.10", 20),
                                         snap("B", "0.90", 15)])  # fmt: skip
        current_a = await crud.get_current_market(conn, "A")
        current_b = await crud.get_current_market(conn, "B")
        assert current_a is not None
        assert current_b is not None
        assert current_a.yes_bid == current_b.yes_bid == Decimal("0.1000")
        history_a = await _history(conn, "A")
        history_b = await _history(conn, "B")
        confirmed_a = await _confirmed(conn, "A")
        confirmed_b = await _confirmed(conn, "B")
    assert confirm == UpsertResult(unchanged=1)
    # 15 lies inside the span 10..20 that two observations confirmed as 0.10: where a 0.90
    # would end depends on observations nobody stored, so it is stale (the documented rule).
    assert late == UpsertResult(stale=1)
    at = [T0 + timedelta(seconds=s) for s in (10, 15, 20)]
    assert history_a == [(Decimal("0.1000"), at[0], None)]
    assert confirmed_a == [at[2]]
    # One call knows all three: exactly the ordered replay.
    assert history_b == [
        (Decimal("0.1000"), at[0], at[1]),
        (Decimal("0.9000"), at[1], at[2]),
        (Decimal("0.1000"), at[2], None),
    ]
    assert confirmed_b == at


async def test_defect1_late_observations_in_unconfirmed_gaps_are_placed_exactly(
    db_pool: Database,
) -> None:
    """Arriving one by one in any order, gap observations give the ordered replay."""
    observations = [("0.10", 10), ("0.30", 20), ("0.30", 15), ("0.10", 12), ("0.90", 13)]
    async with db_pool.connection() as conn:
        results = [await crud.upsert_markets(conn, [snap("A", b, t)]) for b, t in observations]
        in_order = sorted(observations, key=lambda o: o[1])
        await crud.upsert_markets(conn, [snap("B", b, t) for b, t in in_order])
        history_a = await _history(conn, "A")
        history_b = await _history(conn, "B")
        confirmed = await _confirmed(conn, "A"), await _confirmed(conn, "B")
    assert results == [
        UpsertResult(created=1),
        UpsertResult(updated=1),
        UpsertResult(unchanged=1),  # moves 0.30's start back to 15
        UpsertResult(unchanged=1),  # confirms 0.10 until 12
        UpsertResult(updated=1),  # a new version between 12 and 15
    ]
    at = {s: T0 + timedelta(seconds=s) for s in (10, 12, 13, 15, 20)}
    assert (
        history_a
        == history_b
        == [
            (Decimal("0.1000"), at[10], at[13]),
            (Decimal("0.9000"), at[13], at[15]),
            (Decimal("0.3000"), at[15], None),
        ]
    )
    assert confirmed[0] == confirmed[1] == [at[12], at[13], at[20]]


async def test_defect2_one_batch_is_ordered_by_instants_across_a_dst_fold(
    db_pool: Database,
) -> None:
    """01:45 EDT (05:45Z) then 01:15 EST (fold=1, 06:15Z); 01:30 fold 0 and 1 are distinct."""
    first = datetime(2024, 11, 3, 1, 45, tzinfo=NEW_YORK)
    second = datetime(2024, 11, 3, 1, 15, tzinfo=NEW_YORK, fold=1)
    early = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK)
    late = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1)
    async with db_pool.connection() as conn:
        crossed = await crud.upsert_markets(conn, [snap("A", "0.20", second),
                                                   snap("A", "0.10", first)])  # fmt: skip
        twins = await crud.upsert_markets(conn, [snap("B", "0.10", early),
                                                 snap("B", "0.20", late)])  # fmt: skip
        history_a = await _history(conn, "A")
        history_b = await _history(conn, "B")
    assert crossed == twins == UpsertResult(created=1, updated=1)
    utc = [datetime(2024, 11, 3, h, m, tzinfo=UTC) for h, m in ((5, 45), (6, 15), (5, 30), (6, 30))]
    assert [(r[0], r[1]) for r in history_a] == [(Decimal("0.1000"), utc[0]),
                                                 (Decimal("0.2000"), utc[1])]  # fmt: skip
    assert [(r[0], r[1]) for r in history_b] == [(Decimal("0.1000"), utc[2]),
                                                 (Decimal("0.2000"), utc[3])]  # fmt: skip


def game(at: int, situation: object, start: datetime | None = None) -> GameStateSnapshot:
    return GameStateSnapshot(league="nfl", espn_event_id="401", status="in_progress",
                             observed_at=T0 + timedelta(seconds=at), situation=situation,
                             start_time=start)  # fmt: skip


async def test_defect4_json_numbers_and_times_are_encoded_exactly(db_pool: Database) -> None:
    kickoff = datetime(2026, 10, 1, 8, 0, tzinfo=NEW_YORK)  # 12:00Z
    async with db_pool.connection() as conn:
        first = await crud.upsert_game_states(
            conn, [game(0, {"down": Decimal("1.0"), "snap": kickoff}, kickoff)]
        )
        # The same numbers and instants written another way are not a change.
        same = await crud.upsert_game_states(
            conn, [game(5, {"down": 1, "snap": kickoff.astimezone(UTC)}, kickoff.astimezone(UTC))]
        )
        await conn.execute("SET TimeZone = 'Asia/Tokyo'")
        again = await crud.upsert_game_states(conn, [game(9, {"down": 1.0, "snap": kickoff},
                                                          kickoff)])  # fmt: skip
        cur = await conn.execute(
            "SELECT situation, jsonb_typeof(situation->'down'), situation->>'snap' FROM game_states"
        )
        rows = await cur.fetchall()
    assert first == UpsertResult(created=1)
    assert same == again == UpsertResult(unchanged=1)
    assert len(rows) == 1
    assert rows[0][1] == "number"  # not the string "1.0"
    assert rows[0][2] == "2026-10-01T12:00:00+00:00"  # ISO 8601, UTC


@pytest.mark.parametrize("where", ["start_time", "situation"])
async def test_defect4_naive_datetimes_are_refused_naming_the_column(
    db_pool: Database, where: str
) -> None:
    naive = datetime(2026, 10, 1, 12, 0)
    snapshot = game(0, {"at": naive}) if where == "situation" else game(0, None, naive)
    async with db_pool.connection() as conn:
        with pytest.raises(InvalidValueError) as caught:
            await crud.upsert_game_states(conn, [snapshot])
        cur = await conn.execute("SELECT count(*) FROM game_states_keys")
        assert await cur.fetchone() == (0,)  # nothing written
    assert (caught.value.table, caught.value.column) == ("game_states", where)
    assert "naive datetime" in str(caught.value)
    assert "timezone-aware" in str(caught.value)


async def test_defect5_a_settlement_of_an_already_final_market_adds_no_version(
    db_pool: Database,
) -> None:
    final = MarketSnapshot(ticker="A", event_ticker="EV", series_ticker="SER",
                           status="finalized", observed_at=T0 + timedelta(seconds=10),
                           yes_bid=Decimal("0.99"), result="yes")  # fmt: skip
    settlement = SettlementInput("A", "yes", Decimal("1.0000"), T0 + timedelta(seconds=5))
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [final])
        assert (await crud.insert_settlements(conn, [settlement])).inserted == 1
        history = await _history(conn, "A")
        confirmed = await _confirmed(conn, "A")
    assert history == [(Decimal("0.9900"), T0 + timedelta(seconds=10), None)]
    assert confirmed == [T0 + timedelta(seconds=10)]  # no invented confirmation either
