"""A full college Saturday (every FBS football and Division I basketball game) polled from the
simulator through the real client into PostgreSQL: every game ends recorded as final, the
history of every game is sound, nothing is left queued, and the scoreboards are complete."""

from __future__ import annotations

import datetime as dt

import pytest

from precog.api_connectors.espn_client import EspnClient
from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.sandbox.espn import day_schedule
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock
from tests.plugins.game_history import check_game_history, game_versions
from tests.plugins.sandbox import SandboxFactory

pytestmark = pytest.mark.module("espn_client")

KICKOFF = dt.datetime(2026, 11, 7, 15, 45, tzinfo=dt.UTC)
STEP = dt.timedelta(minutes=20)
STEPS = 38  # until 04:05 UTC: the last tip-off is 01:30 UTC, overtime included


async def test_a_full_college_saturday_is_recorded_completely(
    sandbox_factory: SandboxFactory, db_pool: Database, db_url: str
) -> None:
    clock = FakeClock(wall=KICKOFF)
    sandbox = sandbox_factory(markets=5, clock=clock)
    seed = sandbox.exchange.seed
    day = KICKOFF.date()
    expected = {("ncaaf", g.event_id) for g in day_schedule(seed, "ncaaf", day)}
    expected |= {("ncaab", g.event_id) for g in day_schedule(seed, "ncaab", day)}
    assert len(expected) == 180

    async with EspnClient(sandbox.server.espn_base_url, requests_per_second=1000) as client:
        poller = GameStatePoller(client, db_pool, leagues=["ncaaf", "ncaab"], clock=clock)
        most_live = 0
        for _ in range(STEPS):
            result = await poller.poll_once()
            assert result.failed_leagues == ()
            assert result.write_error is None
            assert {(g.league, g.event_id) for g in result.games} == expected
            most_live = max(most_live, poller.stats.live_games)
            clock.advance(STEP.total_seconds())  # the simulator runs on the same clock
        assert client.stats.requests == 2 * STEPS
        assert client.stats.parse_errors == 0

    assert most_live > 30
    assert poller.stats.pending_games == 0
    assert poller.stats.live_games == 0
    assert len(poller.games) == 180  # the view holds today's games, not every poll's
    async with db_pool.connection() as conn:
        current = await crud.list_current_game_states(conn)
        teams = await crud.list_teams(conn)
    assert {(s.league, s.espn_event_id) for s in current} == expected
    assert {s.status for s in current} <= {"final", "final_ot", "postponed"}
    assert len(teams) == 2 * 180  # every team plays once on the day
    versions = game_versions(db_url)
    assert sum(len(v) for v in versions.values()) == poller.stats.versions_written
    assert check_game_history(db_url) == []
    # change detection: far fewer versions than polls x games, more than one per game
    assert 180 < poller.stats.versions_written < STEPS * 180 / 2
