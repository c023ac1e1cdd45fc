"""close_missing_positions against the real database (issue 11, defect 8): a position the
venue stopped reporting (settled) gets a closing version; reported ones are untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.records import PositionSnapshot

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


async def test_positions_the_venue_no_longer_reports_are_closed(db_pool: Database) -> None:
    held = [
        PositionSnapshot("SETTLED", "yes", Decimal("21.00"), T0, market_exposure=Decimal("9.03"),
                         total_traded=Decimal("9.03"), realized_pnl=Decimal("0.000000"),
                         fees_paid=Decimal("0.150000")),
        PositionSnapshot("STILL-OPEN", "no", Decimal("4.00"), T0, market_exposure=Decimal("2")),
        PositionSnapshot("ALREADY-FLAT", "yes", Decimal("0.00"), T0),
    ]  # fmt: skip
    later = T0 + timedelta(hours=2)
    async with db_pool.connection() as conn:
        await crud.upsert_positions(conn, held)
        closed = await crud.close_missing_positions(conn, [("STILL-OPEN", "no")], later)
        again = await crud.close_missing_positions(conn, [("STILL-OPEN", "no")], later)
        settled = await crud.get_position_history(conn, "SETTLED", "yes")
        open_now = await crud.get_current_position(conn, "STILL-OPEN", "no")
        flat = await crud.get_position_history(conn, "ALREADY-FLAT", "yes")
    assert (closed.updated, closed.created) == (1, 0)
    assert again == crud.UpsertResult()  # nothing open is missing any more
    assert [(v.quantity, v.row_current_ind) for v in settled] == [
        (Decimal("21.00"), False),
        (Decimal("0.00"), True),
    ]
    assert settled[0].row_end_ts == settled[1].row_start_ts == later
    closing = settled[1]
    assert closing.market_exposure == 0
    # what was earned and paid stays on record
    assert (closing.total_traded, closing.fees_paid) == (Decimal("9.03"), Decimal("0.15"))
    assert open_now is not None
    assert open_now.quantity == Decimal("4.00")
    assert len(flat) == 1  # a flat position needs no closing version
