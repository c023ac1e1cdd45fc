"""close_missing_positions racing position updates of the same keys (issue 11, defect 8):
whichever transaction commits first, each position ends at its newest observation: closed
when the venue's "no longer reported" is newer, re-opened when a later update is newer."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.records import PositionSnapshot

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 4, 1, tzinfo=UTC)
TICKERS = [f"KXCLOSE-{i:02d}" for i in range(12)]
ROUNDS = 6


async def _yield(times: int) -> None:
    for _ in range(times):  # vary who reaches the database first, without real waiting
        await asyncio.sleep(0)


async def test_closing_and_updating_the_same_positions_concurrently(db_pool: Database) -> None:
    rng = random.Random(8)
    for rnd in range(ROUNDS):
        base = T0 + timedelta(hours=rnd)
        opened = [PositionSnapshot(t, "yes", Decimal("5.00"), base) for t in TICKERS]
        async with db_pool.connection() as conn:
            await crud.upsert_positions(conn, opened)
        closed_at = base + timedelta(minutes=10)
        # Even tickers get an update older than the close, odd ones a newer one.
        updates = [
            PositionSnapshot(t, "yes", Decimal("7.00"),
                             closed_at + timedelta(minutes=-5 if i % 2 == 0 else 5))
            for i, t in enumerate(TICKERS)
        ]  # fmt: skip
        rng.shuffle(updates)

        async def close(at: datetime) -> None:
            await _yield(rng.randrange(6))
            async with db_pool.connection() as conn:
                await crud.close_missing_positions(conn, [], at)

        async def update(snapshot: PositionSnapshot) -> None:
            await _yield(rng.randrange(6))
            async with db_pool.connection() as conn:
                await crud.upsert_positions(conn, [snapshot])

        await asyncio.wait_for(
            asyncio.gather(close(closed_at), *(update(s) for s in updates[:4])), timeout=30
        )
        async with db_pool.connection() as conn:  # the rest arrive after the close
            await crud.upsert_positions(conn, updates[4:])
            current = {p.ticker: p.quantity for p in await crud.get_current_positions(conn)}
        expected = {t: Decimal("0.00") if i % 2 == 0 else Decimal("7.00")
                    for i, t in enumerate(TICKERS)}  # fmt: skip
        assert current == expected, f"round {rnd}"
