"""Two game-state pollers (two processes' worth: own clients, own pools) recording the same
leagues at the same moments: every interleaving of their transactions leaves one current
version per game, contiguous history without repeated states, and nothing unwritten."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from precog.api_connectors.espn_client import EspnClient
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock
from tests.plugins.game_history import check_game_history, game_versions
from tests.plugins.sandbox import SandboxFactory

pytestmark = pytest.mark.module("espn_client")

SATURDAY = dt.datetime(2026, 11, 7, 19, 30, tzinfo=dt.UTC)
ROUNDS = 12


async def test_two_pollers_on_the_same_games_keep_history_sound(
    sandbox_factory: SandboxFactory, db_url: str
) -> None:
    sim_clock = FakeClock(wall=SATURDAY)
    sandbox = sandbox_factory(markets=5, clock=sim_clock)
    url = sandbox.server.espn_base_url
    # the second process's clock runs half a second behind: its observations are older
    clocks = [FakeClock(wall=SATURDAY), FakeClock(wall=SATURDAY - dt.timedelta(seconds=0.5))]
    dbs = [
        Database(
            db_url,
            env=Environment.TEST,
            description=f"poller {i}",
            settings=PoolSettings(min_size=1, max_size=2, timeout=10),
        )
        for i in range(2)
    ]
    for db in dbs:
        await db.start()
    try:
        async with (
            EspnClient(url, requests_per_second=1000) as a,
            EspnClient(url, requests_per_second=1000) as b,
        ):
            pollers = [
                GameStatePoller(client, db, leagues=["ncaaf", "nhl"], clock=clock)
                for client, db, clock in zip((a, b), dbs, clocks, strict=True)
            ]
            for round_ in range(ROUNDS):
                results = await asyncio.wait_for(
                    asyncio.gather(*(p.poll_once() for p in pollers)), timeout=30
                )
                for result in results:
                    assert result.failed_leagues == ()
                # a conflict may only delay a write to the next poll, never lose it
                seconds = 45 + 7 * round_  # uneven steps: different changes each round
                for clock in (sim_clock, *clocks):
                    clock.advance(seconds)
            for poller in pollers:  # drain anything a conflict left queued
                await asyncio.wait_for(poller.poll_once(), timeout=30)
                assert poller.stats.pending_games == 0
    finally:
        for db in dbs:
            await db.close()

    assert check_game_history(db_url) == []
    versions = game_versions(db_url)
    games = {(g.league, g.event_id) for g in pollers[0].games.values()}
    assert set(versions) == games
    # the newest observation of each game is the current version
    for key, game in pollers[0].games.items():
        current = versions[key][-1]
        assert (current["status"], current["home_score"], current["away_score"]) == (
            game.status, game.home.score, game.away.score,
        )  # fmt: skip
    written = sum(p.stats.versions_written for p in pollers)
    assert written == sum(len(v) for v in versions.values())
