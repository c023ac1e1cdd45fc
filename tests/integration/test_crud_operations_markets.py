"""crud_operations against the real migrated database: markets, parents, history, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.errors import (
    CheckViolationError,
    ForeignKeyViolationError,
    InvalidValueError,
    NotNullViolationError,
)
from precog.database.records import (
    BalanceSnapshot,
    EventInput,
    FillInput,
    GameStateSnapshot,
    MarketSnapshot,
    PositionSnapshot,
    RankingInput,
    SeriesInput,
    SettlementInput,
    TeamInput,
    VenueInput,
)
from precog.database.scd2 import UpsertResult

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def snap(ticker: str, bid: str, *, at: int = 0, status: str = "active", event: str = "EV-1"):
    return MarketSnapshot(
        ticker=ticker,
        event_ticker=event,
        series_ticker="SER",
        status=status,
        observed_at=T0 + timedelta(seconds=at),
        yes_bid=Decimal(bid),
        yes_ask=Decimal("0.6000"),
        volume=Decimal("10.00"),
    )


async def test_markets_create_parents_and_version_only_on_change(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        first = await crud.upsert_markets(conn, [snap("A", "0.50"), snap("B", "0.40")])
        same = await crud.upsert_markets(conn, [snap("A", "0.5000", at=5), snap("B", "0.40", at=5)])
        moved = await crud.upsert_markets(conn, [snap("A", "0.55", at=10)])
        cur = await conn.execute("SELECT count(*) FROM series")
        assert (await cur.fetchone()) == (1,)
        cur = await conn.execute("SELECT count(*) FROM events")
        assert (await cur.fetchone()) == (1,)
        history = await crud.get_market_history(conn, "A")
        current = await crud.get_current_market(conn, "A")
        before = await crud.get_market_at(conn, "A", T0 + timedelta(seconds=9))
        after = await crud.get_market_at(conn, "A", T0 + timedelta(seconds=10))
        never = await crud.get_market_at(conn, "A", T0 - timedelta(seconds=1))
        listed = await crud.list_current_markets(conn, status="active", event_ticker="EV-1")
    assert first == UpsertResult(created=2)
    assert same == UpsertResult(unchanged=2)
    assert moved == UpsertResult(updated=1)
    assert [r.yes_bid for r in history] == [Decimal("0.5000"), Decimal("0.5500")]
    assert history[0].row_end_ts == history[1].row_start_ts == T0 + timedelta(seconds=10)
    assert [r.row_current_ind for r in history] == [False, True]
    assert current == history[1]
    assert before is not None
    assert before.yes_bid == Decimal("0.5000")
    assert after == current
    assert never is None
    assert [m.ticker for m in listed] == ["A", "B"]


async def test_a_late_observation_is_placed_in_time_or_counted_stale(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap("A", "0.50", at=10)])
        early = await crud.upsert_markets(conn, [snap("A", "0.10", at=5)])  # before history
        replay = await crud.upsert_markets(conn, [snap("A", "0.90", at=10)])  # 10 is confirmed
        same = await crud.upsert_markets(conn, [snap("A", "0.50", at=10)])
        history = await crud.get_market_history(conn, "A")
    assert early == UpsertResult(updated=1)
    assert replay == UpsertResult(stale=1)
    assert same == UpsertResult(unchanged=1)
    assert [(r.yes_bid, r.row_start_ts) for r in history] == [
        (Decimal("0.1000"), T0 + timedelta(seconds=5)),
        (Decimal("0.5000"), T0 + timedelta(seconds=10)),
    ]


async def test_several_observations_of_one_key_in_a_batch_apply_in_time_order(
    db_pool: Database,
) -> None:
    batch = [snap("A", "0.30", at=3), snap("A", "0.10", at=1), snap("A", "0.20", at=2)]
    async with db_pool.connection() as conn:
        result = await crud.upsert_markets(conn, batch)
        history = await crud.get_market_history(conn, "A")
    assert result == UpsertResult(created=1, updated=2)
    assert [r.yes_bid for r in history] == [Decimal("0.1000"), Decimal("0.2000"), Decimal("0.3000")]
    assert [r.row_end_ts for r in history][:2] == [h.row_start_ts for h in history][1:]


async def test_crud_operation_with_null_violation(db_pool: Database) -> None:
    bad = MarketSnapshot(
        ticker="X",
        event_ticker="EV-1",
        series_ticker="SER",
        status=None,  # type: ignore[arg-type]
        observed_at=T0,
    )
    async with db_pool.connection() as conn:
        with pytest.raises(NotNullViolationError) as caught:
            await crud.upsert_markets(conn, [snap("OK", "0.5"), bad])
        assert await crud.get_current_market(conn, "OK") is None  # nothing partial committed
        cur = await conn.execute("SELECT count(*) FROM markets_keys")
        assert (await cur.fetchone()) == (0,)
    assert caught.value.table == "markets"
    assert caught.value.column == "status"
    assert "markets.status" in str(caught.value)


async def test_check_violations_name_the_column(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        with pytest.raises(CheckViolationError) as price:
            await crud.upsert_markets(conn, [snap("A", "1.5")])
        with pytest.raises(CheckViolationError) as status:
            await crud.upsert_markets(conn, [snap("A", "0.5", status="open")])
    assert (price.value.table, price.value.column) == ("markets", "yes_bid")
    assert (status.value.table, status.value.column) == ("markets", "status")


async def test_value_too_wide_for_its_column_is_typed(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        with pytest.raises(InvalidValueError, match="does not fit numeric") as too_big:
            await crud.upsert_balances(conn, [BalanceSnapshot(Decimal("1e20"), T0)])
        assert (too_big.value.table, too_big.value.column) == ("account_balance", "balance")
        assert await crud.get_current_balance(conn) is None


async def test_fk_violation_names_the_column(db_pool: Database) -> None:
    state = GameStateSnapshot("nfl", "401", status="pre", observed_at=T0, home_team_id=999)
    async with db_pool.connection() as conn:
        with pytest.raises(ForeignKeyViolationError) as caught:
            await crud.upsert_game_states(conn, [state])
    assert (caught.value.table, caught.value.column) == ("game_states", "home_team_id")


async def test_fills_and_settlements_are_idempotent_and_settle_the_market(
    db_pool: Database,
) -> None:
    fill = FillInput("f-1", "A", "yes", Decimal("2.00"), Decimal("0.5000"), T0)
    settle = SettlementInput("A", "yes", Decimal("2.0000"), T0 + timedelta(hours=1))
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [snap("A", "0.50")])
        assert (await crud.insert_fills(conn, [fill, fill])).inserted == 1
        assert (await crud.insert_fills(conn, [fill])).duplicates == 1
        assert (await crud.insert_settlements(conn, [settle])).inserted == 1
        assert (await crud.insert_settlements(conn, [settle])).duplicates == 1
        fills = await crud.list_fills(conn, "A")
        settlements = await crud.list_settlements(conn)
        market = await crud.get_current_market(conn, "A")
        history = await crud.get_market_history(conn, "A")
    assert [f.venue_fill_id for f in fills] == ["f-1"]
    assert fills[0].yes_price == Decimal("0.5000")
    assert settlements[0].revenue == Decimal("2.0000")
    assert market is not None
    assert (market.status, market.result) == ("finalized", "yes")
    assert market.row_start_ts == T0 + timedelta(hours=1)
    assert len(history) == 2


async def test_a_settlement_older_than_the_last_observation_still_finalizes_the_market(
    db_pool: Database,
) -> None:
    # The venue's settled_time can precede our last poll of the market (or equal it).
    settle_b = SettlementInput("B", "yes", Decimal("3.0000"), T0 + timedelta(hours=1),
                               value=Decimal("1.0000"))  # fmt: skip
    settle_c = SettlementInput("C", "no", Decimal("0.0000"), T0 + timedelta(hours=2))
    async with db_pool.connection() as conn:
        await crud.upsert_markets(
            conn, [snap("B", "0.50"), snap("B", "0.99", at=7200), snap("C", "0.10", at=7200)]
        )
        last = await crud.get_current_market(conn, "B")
        assert (await crud.insert_settlements(conn, [settle_b, settle_c])).inserted == 2
        market_b = await crud.get_current_market(conn, "B")
        market_c = await crud.get_current_market(conn, "C")
        history = await crud.get_market_history(conn, "B")
    assert last is not None
    assert market_b is not None
    assert market_c is not None
    assert (market_b.status, market_b.result) == ("finalized", "yes")
    assert market_b.settlement_value == Decimal("1.0000")
    assert (market_c.status, market_c.result) == ("finalized", "no")
    # History is never rewritten: the final version starts just after the last observed one.
    assert market_b.row_start_ts == last.row_start_ts + timedelta(microseconds=1)
    assert [(h.yes_bid, h.status) for h in history] == [
        (Decimal("0.5000"), "active"),
        (Decimal("0.9900"), "active"),
        (Decimal("0.9900"), "finalized"),
    ]


async def test_series_and_events_are_inserted_then_updated_in_place(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        first = await crud.upsert_series(conn, [SeriesInput("KXNFL", "NFL", "Sports")])
        again = await crud.upsert_series(
            conn, [SeriesInput("KXNFL", "NFL games", "Sports", "weekly")]
        )
        events = await crud.upsert_events(
            conn,
            [EventInput("KXNFL-1", "KXNFL", title="Week 1"),
             EventInput("KXNBA-1", "KXNBA", title="Opening night")],  # unknown series: created
        )  # fmt: skip
        events_again = await crud.upsert_events(
            conn, [EventInput("KXNFL-1", "KXNFL", title="Week 1 (moved)", mutually_exclusive=True)]
        )
        cur = await conn.execute("SELECT ticker, title, category, frequency FROM series "
                                 "WHERE ticker LIKE 'KXN%%' ORDER BY ticker")  # fmt: skip
        series_rows = await cur.fetchall()
        cur = await conn.execute(
            "SELECT e.event_ticker, e.title, e.mutually_exclusive, s.ticker FROM events e "
            "JOIN series s USING (series_id) WHERE e.event_ticker LIKE 'KXN%%' "
            "ORDER BY e.event_ticker"
        )
        event_rows = await cur.fetchall()
    assert again == first  # the same series id: updated in place, not duplicated
    assert series_rows == [("KXNBA", None, None, None), ("KXNFL", "NFL games", "Sports", "weekly")]
    assert events_again == {"KXNFL-1": events["KXNFL-1"]}
    assert event_rows == [
        ("KXNBA-1", "Opening night", None, "KXNBA"),
        ("KXNFL-1", "Week 1 (moved)", True, "KXNFL"),
    ]


async def test_filters_and_point_in_time_reads_select_exactly(db_pool: Database) -> None:
    second = T0 + timedelta(hours=1)
    async with db_pool.connection() as conn:
        await crud.upsert_markets(
            conn, [snap("A", "0.50"), snap("B", "0.40", status="closed"),
                   snap("C", "0.30", event="EV-2")],
        )  # fmt: skip
        active = await crud.list_current_markets(conn, status="active")
        closed = await crud.list_current_markets(conn, status="closed")
        in_ev1 = await crud.list_current_markets(conn, event_ticker="EV-1")
        in_ev2 = await crud.list_current_markets(conn, event_ticker="EV-2")
        await crud.upsert_balances(conn, [BalanceSnapshot(Decimal("10.00"), T0),
                                          BalanceSnapshot(Decimal("12.00"), second)])  # fmt: skip
        at_first = await crud.get_balance_at(conn, T0)
        at_second = await crud.get_balance_at(conn, second)
        before = await crud.get_balance_at(conn, T0 - timedelta(microseconds=1))
        await crud.upsert_positions(conn, [PositionSnapshot("A", "yes", Decimal(1), T0),
                                           PositionSnapshot("A", "yes", Decimal(7), T0,
                                                            platform="espn")])  # fmt: skip
        espn = await crud.scd2_history(conn, "positions", ["A", "yes", "espn"])
        kalshi = await crud.scd2_history(conn, "positions", ["A", "yes"])
    assert [m.ticker for m in active] == ["A", "C"]
    assert [m.ticker for m in closed] == ["B"]
    assert [m.ticker for m in in_ev1] == ["A", "B"]
    assert [m.ticker for m in in_ev2] == ["C"]
    # A version is valid from its start (inclusive) to the next one's start (exclusive).
    assert at_first is not None
    assert at_first.balance == Decimal("10.00")
    assert at_second is not None
    assert at_second.balance == Decimal("12.00")
    assert before is None
    assert [r.quantity for r in espn] == [Decimal("7.00")]
    assert [r.quantity for r in kalshi] == [Decimal("1.00")]


async def test_balance_positions_teams_venues_rankings_games(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        await crud.upsert_balances(conn, [BalanceSnapshot(Decimal("100.50"), T0)])
        await crud.upsert_balances(conn, [BalanceSnapshot(Decimal("99.25"), T0 + timedelta(1))])
        balance = await crud.get_current_balance(conn)
        old_balance = await crud.get_balance_at(conn, T0 + timedelta(hours=1))
        await crud.upsert_positions(conn, [PositionSnapshot("A", "yes", Decimal("10"), T0)])
        positions = await crud.get_current_positions(conn)
        teams = await crud.upsert_teams(
            conn, [TeamInput("nfl", "1", "Bills"), TeamInput("nfl", "2", "Jets")]
        )
        renamed = await crud.upsert_teams(conn, [TeamInput("nfl", "1", "Buffalo Bills")])
        venues = await crud.upsert_venues(conn, [VenueInput("v1", "Highmark Stadium")])
        bills = teams[("nfl", "1")]
        await crud.upsert_rankings(conn, [RankingInput(bills, "ap", 2026, 3, T0, week=1)])
        await crud.upsert_rankings(conn, [RankingInput(bills, "ap", 2026, 2, T0, week=1)])
        ranks = await crud.list_rankings(conn, "ap", 2026, 1)
        game = GameStateSnapshot(
            "nfl",
            "401",
            status="in_progress",
            observed_at=T0,
            home_team_id=bills,
            away_team_id=teams[("nfl", "2")],
            venue_id=venues["v1"],
            home_score=7,
            situation={"down": 1, "distance": 10},
        )
        results = [
            await crud.upsert_game_states(conn, [game]),
            await crud.upsert_game_states(conn, [game]),
        ]
        state = await crud.get_current_game_state(conn, "nfl", "401")
        team = await crud.get_team(conn, "nfl", "1")
    assert balance is not None
    assert balance.balance == Decimal("99.2500")
    assert old_balance is not None
    assert old_balance.balance == Decimal("100.5000")
    assert [(p.ticker, p.side, p.quantity) for p in positions] == [("A", "yes", Decimal("10.00"))]
    assert renamed == {("nfl", "1"): bills}
    assert team is not None
    assert team.display_name == "Buffalo Bills"
    assert [(r.team_id, r.rank) for r in ranks] == [(bills, 2)]
    assert results == [UpsertResult(created=1), UpsertResult(unchanged=1)]
    assert state is not None
    assert state.situation == {"down": 1, "distance": 10}
