"""Settlement finalisation racing a market update (issue 11, defect 5).

Connection 1 writes a new market version inside an open transaction (it holds the SCD2
writer's key lock); connection 2 runs `insert_settlements` meanwhile and must wait for that
lock before it reads the market's current version. After connection 1 commits, the market
is finalised on top of the committed version, whether that version is newer (t=30) or
older (t=15) than the settlement (t=20).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.database import crud_operations as crud
from precog.database.records import InsertResult, MarketSnapshot, SettlementInput
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snap(bid: str, seconds: int) -> MarketSnapshot:
    return MarketSnapshot(ticker="KXSET-A", event_ticker="KXSET-EV", series_ticker="KXSET",
                          status="active", observed_at=at(seconds),
                          yes_bid=Decimal(bid))  # fmt: skip


@pytest.mark.parametrize(
    ("update_at", "finalized_at"),
    [(30, at(30) + timedelta(microseconds=1)), (15, at(20))],
    ids=["update-after-settlement", "update-before-settlement"],
)
async def test_defect5_finalisation_waits_for_a_concurrent_market_update(
    db_url: str, update_at: int, finalized_at: datetime
) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as setup:
        await crud.upsert_markets(setup, [snap("0.10", 10)])
    writer = await psycopg.AsyncConnection.connect(db_url)
    settler = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    probe = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    settling: asyncio.Task[InsertResult] | None = None
    try:
        await writer.execute("SELECT 1")  # open the transaction the update joins
        await crud.upsert_markets(writer, [snap("0.30", update_at)])
        settlement = SettlementInput("KXSET-A", "yes", Decimal("3.0000"), at(20),
                                     value=Decimal("1.0000"))  # fmt: skip
        settling = asyncio.create_task(crud.insert_settlements(settler, [settlement]))
        pid = settler.info.backend_pid

        async def settler_waits_on_a_lock() -> bool:
            cur = await probe.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            row = await cur.fetchone()
            return row is not None and row[0] == "Lock"

        await eventually_async(settler_waits_on_a_lock, timeout=30, what="settler blocked")
        await writer.commit()
        async with asyncio.timeout(30):
            assert (await settling).inserted == 1
        history = await crud.get_market_history(probe, "KXSET-A")
    finally:
        if settling is not None and not settling.done():
            settling.cancel()
        for conn in (writer, settler, probe):
            await conn.close()
    assert [(h.yes_bid, h.status, h.row_start_ts) for h in history] == [
        (Decimal("0.1000"), "active", at(10)),
        (Decimal("0.3000"), "active", at(update_at)),
        (Decimal("0.3000"), "finalized", finalized_at),  # never the stale 0.10
    ]
    assert (history[-1].result, history[-1].settlement_value) == ("yes", Decimal("1.0000"))
    assert history[-1].row_current_ind
