"""`precog db history`: the SCD2 versions a user asks for, read through crud_operations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from precog.config.environment import Environment
from precog.database import crud_operations as crud
from precog.database.connection import Database, PoolSettings
from precog.database.records import GameStateSnapshot, MarketSnapshot, PositionSnapshot
from tests.plugins.cli_runner import PrecogCli

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 9, 1, 18, 0, tzinfo=UTC)


async def _write(url: str) -> None:
    db = Database(url, env=Environment.TEST, description="e2e", settings=PoolSettings(1, 2, 10))
    await db.start()
    async with db, db.connection() as conn:
        for minute, bid in enumerate(["0.4200", "0.4200", "0.4500", "0.4100"]):
            snap = MarketSnapshot(
                ticker="KX-E2E", event_ticker="KX-EV", series_ticker="KX", status="active",
                observed_at=T0 + timedelta(minutes=minute), yes_bid=Decimal(bid),
            )  # fmt: skip
            await crud.upsert_markets(conn, [snap])
        await crud.upsert_positions(conn, [PositionSnapshot("KX-E2E", "yes", Decimal("5"), T0)])
        await crud.upsert_game_states(
            conn, [GameStateSnapshot("nfl", "401", "in_progress", T0, home_score=3)]
        )


async def test_history_and_point_in_time_from_the_command_line(
    precog_cli: PrecogCli, db_env: dict[str, str]
) -> None:
    await _write(db_env["DATABASE_URL"])

    result = precog_cli("db", "history", "markets", "KX-E2E", "--json", env=db_env)
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert [v["yes_bid"] for v in versions] == ["0.4200", "0.4500", "0.4100"]
    assert [v["row_current_ind"] for v in versions] == [False, False, True]
    assert versions[0]["row_end_ts"] == versions[1]["row_start_ts"]

    at = (T0 + timedelta(minutes=2, seconds=30)).isoformat()
    point = precog_cli("db", "history", "markets", "KX-E2E", "--at", at, "--json", env=db_env)
    assert point.returncode == 0, point.stderr
    assert [v["yes_bid"] for v in json.loads(point.stdout)] == ["0.4500"]

    text = precog_cli("db", "history", "positions", "KX-E2E", "yes", env=db_env)
    assert text.returncode == 0, text.stderr
    assert "quantity=5.00" in text.stdout
    assert "current" in text.stdout

    game = precog_cli("db", "history", "game_states", "nfl", "401", "--json", env=db_env)
    assert json.loads(game.stdout)[0]["home_score"] == 3

    unknown = precog_cli("db", "history", "fills", "x", env=db_env)
    assert unknown.returncode == 2
    assert "not an SCD2 table" in unknown.stderr
    naive = precog_cli("db", "history", "markets", "KX-E2E", "--at", "2026-09-01", env=db_env)
    assert naive.returncode == 2
    assert "needs a timezone" in naive.stderr
