"""crud_operations against the real database: money keeps the venue's 6 decimals (issue 11,
defect 6) and input the database cannot store is refused up front, named, with nothing
saved (defect 7)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.errors import DatabaseBusyError, InvalidValueError
from precog.database.records import (
    BalanceSnapshot,
    FillInput,
    GameStateSnapshot,
    MarketSnapshot,
    PositionSnapshot,
    SettlementInput,
)

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def market(ticker: str, *, title: str | None = None) -> MarketSnapshot:
    return MarketSnapshot(
        ticker=ticker, event_ticker="EV-1", series_ticker="SER", status="active",
        observed_at=T0, title=title, yes_bid=Decimal("0.4200"),
    )  # fmt: skip


async def test_six_decimal_money_is_stored_exactly(db_pool: Database) -> None:
    # Reference A3: portfolio money fields carry up to 6 decimals (fee_cost "0.010000").
    fee = Decimal("0.012345")
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [market("A")])
        await crud.insert_fills(
            conn, [FillInput("f-1", "A", "yes", Decimal("3.00"), Decimal("0.4200"), T0,
                             fee_cost=fee)],
        )  # fmt: skip
        await crud.insert_settlements(
            conn, [SettlementInput("A", "yes", Decimal("3.000000"), T0 + timedelta(hours=1),
                                   fee_cost=Decimal("0.010000"),
                                   yes_total_cost=Decimal("1.260001"))],
        )  # fmt: skip
        await crud.upsert_balances(
            conn, [BalanceSnapshot(Decimal("100.123456"), T0, Decimal("0.000001"))]
        )
        await crud.upsert_positions(
            conn, [PositionSnapshot("A", "yes", Decimal("3.00"), T0,
                                    fees_paid=Decimal("0.037035"),
                                    realized_pnl=Decimal("-0.000005"))],
        )  # fmt: skip
        # the same values again are not a change (no rounding drift between writes)
        again = await crud.upsert_balances(
            conn, [BalanceSnapshot(Decimal("100.123456"), T0 + timedelta(1), Decimal("1E-6"))]
        )
        fills = await crud.list_fills(conn)
        settlements = await crud.list_settlements(conn)
        balance = await crud.get_current_balance(conn)
        position = await crud.get_current_position(conn, "A", "yes")
    assert fills[0].fee_cost == fee
    assert (settlements[0].fee_cost, settlements[0].yes_total_cost) == (
        Decimal("0.010000"),
        Decimal("1.260001"),
    )
    assert balance is not None
    assert (balance.balance, balance.portfolio_value) == (
        Decimal("100.123456"),
        Decimal("0.000001"),
    )
    assert again.unchanged == 1
    assert position is not None
    assert (position.fees_paid, position.realized_pnl) == (
        Decimal("0.037035"),
        Decimal("-0.000005"),
    )


async def test_money_that_would_be_rounded_is_refused_and_nothing_is_saved(
    db_pool: Database,
) -> None:
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [market("A")])
        good = FillInput("f-1", "A", "yes", Decimal("1.00"), Decimal("0.4200"), T0)
        bad = FillInput("f-2", "A", "yes", Decimal("1.00"), Decimal("0.4200"), T0,
                        fee_cost=Decimal("0.0123456"))  # fmt: skip
        with pytest.raises(InvalidValueError) as caught:
            await crud.insert_fills(conn, [good, bad])
        with pytest.raises(InvalidValueError, match=r"account_balance\.balance"):
            await crud.upsert_balances(conn, [BalanceSnapshot(Decimal("5.0000001"), T0)])
        assert await crud.list_fills(conn) == []
        assert await crud.get_current_balance(conn) is None
    assert (caught.value.table, caught.value.column) == ("fills", "fee_cost")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("ticker", "problem"),
    [
        ("T" * 6000, "key of 6000 bytes"),
        ("AB\x00C", "NUL character"),
        ("AB\udcffC", "lone surrogate"),
    ],
)
async def test_impossible_market_keys_are_refused_before_the_database(
    db_pool: Database, ticker: str, problem: str
) -> None:
    async with db_pool.connection() as conn:
        with pytest.raises(InvalidValueError) as caught:
            await crud.upsert_markets(conn, [market("OK"), market(ticker)])
        with pytest.raises(InvalidValueError, match=problem):
            await crud.scd2_history(conn, "markets", [ticker])
        cur = await conn.execute("SELECT count(*) FROM markets_keys")
        assert await cur.fetchone() == (0,)  # the valid market of the batch was not saved
    error = caught.value
    assert (error.table, error.column, error.exit_code) == ("markets", "ticker", 2)
    assert problem in str(error)


async def test_nul_in_json_and_text_fields_is_named(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        with pytest.raises(InvalidValueError, match=r"game_states\.situation: contains a NUL"):
            await crud.upsert_game_states(
                conn, [GameStateSnapshot("nfl", "401", "pre", T0, situation={"t": "a\x00"})]
            )
        with pytest.raises(InvalidValueError, match=r"markets\.title: contains a lone"):
            await crud.upsert_markets(conn, [market("A", title="caf\udce9")])
        with pytest.raises(InvalidValueError, match=r"fills\.venue_fill_id: contains a NUL"):
            await crud.insert_fills(
                conn, [FillInput("f\x00", "A", "yes", Decimal(1), Decimal("0.5"), T0)]
            )


async def test_a_lock_timeout_in_a_write_is_reported_as_busy(db_pool: Database) -> None:
    async with db_pool.connection() as conn:
        await crud.upsert_markets(conn, [market("A")])
    changed = MarketSnapshot(
        ticker="A", event_ticker="EV-1", series_ticker="SER", status="active",
        observed_at=T0 + timedelta(seconds=1), yes_bid=Decimal("0.4300"),
    )  # fmt: skip
    async with (
        db_pool.connection() as holder,
        db_pool.connection() as writer,
        holder.transaction(),
    ):
        await holder.execute("SELECT 1 FROM markets_keys WHERE ticker = 'A' FOR UPDATE")
        await writer.execute("SET lock_timeout = '50ms'")
        with pytest.raises(DatabaseBusyError, match=r"lock_timeout.*retry"):
            await asyncio.wait_for(crud.upsert_markets(writer, [changed]), timeout=10)
