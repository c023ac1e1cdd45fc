"""`precog espn scores` and `precog games history` as a user runs them: real subprocesses
against the sandbox's ESPN simulator and a real test database; output, exit codes, rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import socket

import pytest

from precog.api_connectors.espn_models import (
    STATUSES,
    decode_json,
    parse_scoreboard,
)
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.crud_operations.sports import record_games
from precog.utils.clock import FakeClock
from tests.plugins.cli_runner import PrecogCli
from tests.plugins.sandbox import RunningSandbox, SandboxFactory

pytestmark = pytest.mark.module("espn_client")

SATURDAY = dt.datetime(2026, 11, 7, 19, 0, tzinfo=dt.UTC)
FAST = {"PRECOG__DATA_SOURCES__ESPN__REQUESTS_PER_SECOND": "100"}


def _env(sandbox: RunningSandbox, **extra: str) -> dict[str, str]:
    return {"ESPN_API_BASE_URL": sandbox.server.espn_base_url, **FAST, **extra}


def _expected(sandbox: RunningSandbox, slug: str, query: dict[str, str]) -> dict[str, str]:
    board = parse_scoreboard(sandbox.server.espn.scoreboard("football", slug, query), "ncaaf")
    return {g.event_id: g.status for g in board.games}


def test_scores_json_matches_the_simulator(
    precog_cli: PrecogCli, sandbox_factory: SandboxFactory
) -> None:
    sandbox = sandbox_factory(markets=5, clock=FakeClock(wall=SATURDAY))
    result = precog_cli("espn", "scores", "--league", "ncaaf", "--date", "2026-11-07", "--json",
                        env=_env(sandbox))  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    got = {g["event_id"]: g["status"] for g in out["games"]}
    assert got == _expected(sandbox, "college-football", {"dates": "20261107", "groups": "80"})
    assert len(got) == 60  # the full FBS slate (groups=80 by default), not the featured 10
    assert out["malformed_events"] == 0
    game = next(g for g in out["games"] if g["status"] == "in_progress")
    assert isinstance(game["clock_seconds"], str)  # Decimal, exact
    assert game["home"]["home_away"] == "home"
    assert set(got.values()) <= set(STATUSES)

    # the table view, live games only, two leagues
    live = precog_cli("espn", "scores", "--league", "ncaaf", "--league", "nhl", "--live",
                      "--date", "20261107", env=_env(sandbox))  # fmt: skip
    assert live.returncode == 0, live.stderr
    expected_live = sum(
        1
        for league, sport, slug, groups in (("ncaaf", "football", "college-football", "80"),
                                            ("nhl", "hockey", "nhl", None))
        for g in parse_scoreboard(sandbox.server.espn.scoreboard(
            sport, slug, {"dates": "20261107", **({"groups": groups} if groups else {})}), league
        ).games
        if g.is_live
    )  # fmt: skip
    assert expected_live > 0
    assert f"{expected_live} live games in ncaaf, nhl" in live.stdout
    assert "in_progress" in live.stdout
    assert "final" not in live.stdout


def test_scores_errors_are_one_line_with_their_exit_code(
    precog_cli: PrecogCli, sandbox: RunningSandbox
) -> None:
    bad = precog_cli("espn", "scores", "--league", "xfl", env=_env(sandbox))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: unknown league 'xfl'")

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = precog_cli("espn", "scores", "--league", "nhl",
                      env={**FAST, "ESPN_API_BASE_URL": f"http://127.0.0.1:{port}/x"})  # fmt: skip
    assert down.returncode == 4
    assert "cannot reach ESPN" in down.stderr
    assert "Traceback" not in down.stderr


def test_games_history_shows_every_recorded_version(
    precog_cli: PrecogCli, db_env: dict[str, str], sandbox_factory: SandboxFactory
) -> None:
    sandbox = sandbox_factory(markets=5, clock=FakeClock(wall=SATURDAY))
    query = {"dates": "20261107", "groups": "80"}

    async def record() -> str:
        db = Database(db_env["DATABASE_URL"], env=Environment.TEST, description="e2e",
                      settings=PoolSettings(1, 2, 10))  # fmt: skip
        await db.start()
        event_id = ""
        async with db:
            for minute in range(3):
                now = SATURDAY + dt.timedelta(minutes=minute)
                body = sandbox.server.espn.scoreboard("football", "college-football", query)
                board = parse_scoreboard(decode_json(json.dumps(body)), "ncaaf")
                event_id = event_id or next(
                    g.event_id for g in board.games if g.status == "in_progress"
                )
                async with db.connection() as conn:
                    await record_games(conn, board.games, now)
                sandbox.exchange.advance(60)
        return event_id

    event_id = asyncio.run(record())
    result = precog_cli("games", "history", event_id, "--json", env=db_env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["league"] == "ncaaf"
    versions = out["versions"]
    assert len(versions) >= 2
    assert [v["row_current_ind"] for v in versions] == [False] * (len(versions) - 1) + [True]
    assert all(a["row_end_ts"] == b["row_start_ts"] for a, b in itertools.pairwise(versions))
    assert versions[0]["home_team"] is not None

    text = precog_cli("games", "history", event_id, env=db_env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("\n") == len(versions)
    assert "current" in text.stdout.splitlines()[-1]
