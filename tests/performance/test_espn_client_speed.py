"""espn_client speed, as ratios measured in the same run.

1. Parse rate: a full Saturday Division I basketball scoreboard (120 games, ~190 KB) decoded
   and parsed into typed games, against `json.loads` of the same bytes.
2. Change detection: one poll of an unchanged scoreboard (fetch over loopback, parse, compare
   in memory, no database round trip) against the earlier codebase's way of writing every
   game of every poll to the database (same fetch, then teams, venues and game states
   through the SCD2 writer).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest

from precog.api_connectors.espn_client import EspnClient
from precog.api_connectors.espn_models import decode_json, parse_scoreboard
from precog.database.connection import Database
from precog.database.crud_operations.sports import record_games
from precog.sandbox.espn import EspnSimulator
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock
from tests.plugins.sandbox import SandboxFactory

pytestmark = pytest.mark.module("espn_client")

SATURDAY = dt.datetime(2026, 11, 7, 20, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def saturday_payload() -> bytes:
    sim = EspnSimulator(seed=42, now=lambda: SATURDAY)
    body = sim.scoreboard(
        "basketball", "mens-college-basketball", {"dates": "20261107", "groups": "50"}
    )
    return json.dumps(body).encode()


def test_scoreboard_parse_rate_vs_raw_json_decode(
    compare_speed: Any, saturday_payload: bytes
) -> None:
    board = parse_scoreboard(decode_json(saturday_payload), "ncaab")
    assert len(board.games) == 120
    assert board.errors == ()

    result = compare_speed(
        baseline=lambda: json.loads(saturday_payload),
        candidate=lambda: parse_scoreboard(decode_json(saturday_payload), "ncaab"),
        # typed, validated games may cost at most 15x a bare decode (measured 2.8-5.5x)
        min_speedup=1 / 15,
        baseline_name="json.loads (raw scoreboard)",
        candidate_name="decode + typed games",
    )
    assert result.speedup < 1.0  # sanity: building games cannot be cheaper than decoding


async def test_change_detection_vs_writing_every_poll(
    compare_speed: Any, sandbox_factory: SandboxFactory, db_pool: Database
) -> None:
    clock = FakeClock(wall=SATURDAY)  # frozen: every poll sees the same scoreboard
    sandbox = sandbox_factory(markets=5, clock=clock)
    ticks = itertools.count(1)
    async with EspnClient(sandbox.server.espn_base_url, requests_per_second=10_000) as client:
        poller = GameStatePoller(client, db_pool, leagues=["ncaab"], clock=clock)
        first = await poller.poll_once()
        assert first.written == len(first.games) == 120

        async def write_every_poll() -> None:
            board = await client.get_scoreboard("ncaab")
            observed = SATURDAY + dt.timedelta(seconds=next(ticks))
            async with db_pool.connection() as conn:
                await record_games(conn, board.games, observed)

        async def detect_changes() -> None:
            result = await poller.poll_once()
            assert result.changed == 0

        result = await compare_speed.async_(
            baseline=write_every_poll,
            candidate=detect_changes,
            # measured 1.9-2.7x: the fetch and parse are common to both
            min_speedup=1.5,
            baseline_name="write every game every poll",
            candidate_name="in-memory change detection",
        )
    assert result.speedup > 1.5
    assert poller.stats.versions_written == 120  # nothing written after the first poll
