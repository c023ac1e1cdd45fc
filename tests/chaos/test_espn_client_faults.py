"""espn_client and the game-state poller under real faults: the simulator's fault switches
(5xx, resets, truncated bodies, latency) and a PostgreSQL crash in the middle of polling.
Assertions are on the state afterwards: the right games, and no game-state version lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from precog.api_connectors.espn_client import EspnClient
from precog.api_connectors.espn_models import EspnUnavailableError
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.crud_operations.sports import tracked_state
from precog.sandbox.espn import SCOREBOARD_ROUTE
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy
from tests.plugins.database import ChaosServer
from tests.plugins.game_history import check_game_history, game_versions
from tests.plugins.sandbox import SandboxFactory
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("espn_client")

SATURDAY = dt.datetime(2026, 11, 7, 19, 30, tzinfo=dt.UTC)


def _policy() -> RetryPolicy:
    return RetryPolicy(max_retries=6, base_delay=0.01, max_delay=0.05, rng=random.Random(3))


async def test_simulator_faults_are_retried_and_a_failing_poll_does_not_stop_the_loop(
    sandbox_factory: SandboxFactory, db_pool: Database
) -> None:
    clock = FakeClock(wall=SATURDAY)
    sandbox = sandbox_factory(markets=5, clock=clock)
    url = sandbox.server.espn_base_url
    # the client's retry sleeps run on a clock of their own: simulated time stands still
    async with EspnClient(
        url, requests_per_second=1000, retry_policy=_policy(), clock=FakeClock()
    ) as client:
        clean = await client.get_scoreboard("ncaaf")
        faults = sandbox.faults
        faults.configure(reset_next=1, endpoints=[SCOREBOARD_ROUTE])
        faults.configure(malformed_next=1, endpoints=[SCOREBOARD_ROUTE])
        faults.configure(error_rates={SCOREBOARD_ROUTE: 0.3})
        for _ in range(3):
            assert await client.get_scoreboard("ncaaf") == clean
        assert client.stats.retries >= 2  # the reset and the truncated body at least
        faults.reset()

        # every request fails: each poll is counted as failed, the loop keeps going
        faults.configure(error_rates={"*": 1.0})
        # The poller sleeps on a clock of its own: failing polls spin fast, and on the
        # sandbox's clock every idle sleep would push the simulation days ahead.
        poller = GameStatePoller(
            client, db_pool, leagues=["ncaaf", "nhl"], clock=FakeClock(wall=SATURDAY)
        )
        with pytest.raises(EspnUnavailableError):
            await client.get_scoreboard("nhl")
        task = asyncio.create_task(poller.run())
        try:
            await eventually_async(lambda: poller.stats.failed_polls >= 2, timeout=20,
                                   what="two failed polls")  # fmt: skip
            assert poller.stats.versions_written == 0
            assert not task.done()
            assert poller.stats.last_error is not None
            assert "ESPN is failing (500)" in poller.stats.last_error
            faults.reset()
            await eventually_async(lambda: poller.stats.versions_written > 0, timeout=20,
                                   what="a poll after the faults cleared")  # fmt: skip
        finally:
            task.cancel()
            stopped, _ = await asyncio.wait({task}, timeout=10)
        assert task in stopped, "the poller ran on after it was cancelled"
    assert poller.stats.league_failures >= 4
    assert {g.event_id for g in poller.games.values() if g.league == "ncaaf"} == {
        g.event_id for g in clean.games
    }


async def test_database_restart_during_polling_loses_no_game_state_version(
    chaos_server: ChaosServer, sandbox_factory: SandboxFactory
) -> None:
    clock = FakeClock(wall=SATURDAY)
    sandbox = sandbox_factory(markets=5, clock=clock)
    db = Database(chaos_server.url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=1))  # fmt: skip
    await db.start()
    observed: dict[tuple[str, str], list[tuple[object, ...]]] = {}

    def remember(poller: GameStatePoller) -> None:
        for key, game in poller.games.items():
            states = observed.setdefault(key, [])
            if not states or states[-1] != tracked_state(game):
                states.append(tracked_state(game))

    try:
        async with EspnClient(sandbox.server.espn_base_url, requests_per_second=1000) as client:
            poller = GameStatePoller(client, db, leagues=["ncaaf"], clock=clock)
            await poller.poll_once()
            remember(poller)
            chaos_server.crash()
            for _ in range(2):  # the games go on while the database is down
                clock.advance(90)
                result = await poller.poll_once()
                remember(poller)
                assert result.write_error is not None
            assert poller.stats.pending_games > 0
            assert poller.stats.write_failures == 2
            chaos_server.restart()
            clock.advance(90)
            result = await poller.poll_once()
            remember(poller)
            assert result.write_error is None
            assert poller.stats.pending_games == 0
    finally:
        await db.close()

    assert check_game_history(chaos_server.url) == []
    versions = game_versions(chaos_server.url)
    assert set(versions) == set(observed)
    lost = {
        key: (len(states), len(versions[key]))
        for key, states in observed.items()
        if len(versions[key]) != len(states)
    }
    assert lost == {}  # every distinct observed state is a version, in order
    assert sum(len(v) for v in versions.values()) == poller.stats.versions_written
    changed_while_down = sum(1 for states in observed.values() if len(states) > 2)
    assert changed_while_down > 0
