"""`precog run` as a user runs it: on a fresh PRECOG_HOME it migrates the empty embedded
database (one log line), follows the in-process sandbox's markets over the stream and REST,
stores their histories and exits 0 with a summary; SIGTERM stops it gracefully; a database
that is behind is refused (2) and an unreachable exchange ends it at once (4).
`precog markets history --plot` then writes a PNG."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from precog.database import embedded
from tests.plugins.cli_runner import PrecogCli, subprocess_env
from tests.plugins.database import FreshDatabase
from tests.plugins.market_history import current_markets, history_problems, stored_versions
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("market_data_manager")


def _no_external_db() -> dict[str, str]:
    env = subprocess_env({"PRECOG_ENV": "test", "KALSHI_MODE": "sandbox"})
    env.pop("DATABASE_URL", None)
    env.pop("KALSHI_API_BASE_URL", None)
    return env


@pytest.mark.timeout(120)
def test_run_on_a_fresh_home_collects_histories_and_plots_one(
    precog_cli: PrecogCli, fresh_precog_home: Path, tmp_path: Path, gate_python: list[str]
) -> None:
    env = {**_no_external_db(), "PRECOG_HOME": str(fresh_precog_home)}
    result = subprocess.run(
        [*gate_python, "-m", "precog", "run", "--duration", "3", "--json"],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("applying the migrations") == 1
    assert "Traceback" not in result.stderr
    everything = json.loads(result.stdout)
    summary = everything["markets"]
    assert summary["markets"] == 50
    assert summary["versions_written"] >= 50
    assert summary["queue_depth"] == 0
    assert summary["dropped"] == summary["unflushed"] == 0

    server = embedded.start_server(fresh_precog_home / "postgres", keep_running=True)
    url = server.url("precog_test")
    assert len(current_markets(url)) == 50
    assert stored_versions(url) == summary["versions_written"]  # every version is stored
    assert history_problems(url) == 0
    # The game-state poller joined the service: the simulator's games are stored as
    # game_states history, one current version per game it saw.
    games = everything["games"]
    assert games["polls"] >= 1
    assert games["failed_polls"] == 0
    assert games["games_seen"] > 0
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM game_states WHERE row_current_ind").fetchone()
    assert row is not None
    assert row[0] == games["games_seen"]

    png = tmp_path / "history.png"
    shown = subprocess.run(
        [*gate_python, "-m", "precog", "markets", "history", "--json", "--plot", str(png)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    versions = json.loads(shown.stdout)["versions"]
    assert len(versions) >= 2  # the liveliest market moved during the run
    assert versions[-1]["row_end_ts"] is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(120)
def test_sigterm_stops_the_live_view_gracefully_with_a_summary(
    db_env: dict[str, str], gate_python: list[str], tmp_path: Path
) -> None:
    env = {**_no_external_db(), **db_env}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [*gate_python, "-m", "precog", "run"],  # with the live view
            env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        try:
            eventually(lambda: stored_versions(db_env["DATABASE_URL"]) > 0, timeout=60,
                       what="the service is storing")  # fmt: skip
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, log.read_text()
    found = re.match(r"precog run stopped: (\d+) markets followed, (\d+) versions written", out)
    assert found is not None, out
    # everything the service took in was written before the exit (the queue was flushed)
    assert int(found.group(2)) == stored_versions(db_env["DATABASE_URL"]) > 0
    assert "Traceback" not in log.read_text()
    view = log.read_text()  # the live view (on stderr) showed the markets and the counters
    assert "markets followed (latest changes first)" in view
    assert "versions written" in view


def test_a_database_that_is_behind_is_refused(
    precog_cli: PrecogCli, fresh_database: FreshDatabase
) -> None:
    url = fresh_database(migrated=False)
    result = precog_cli("run", "--duration", "1", "--no-ui", env={"DATABASE_URL": url})
    assert result.returncode == 2
    assert "precog db upgrade" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert os.environ.get("DATABASE_URL") != url


def test_an_unreachable_exchange_exits_4_with_one_line(
    precog_cli: PrecogCli, db_env: dict[str, str], sandbox: RunningSandbox
) -> None:
    # valid credentials, but nothing listens at the URL
    env = {**sandbox.env, **db_env, "KALSHI_API_BASE_URL": "http://127.0.0.1:9/trade-api/v2"}
    result = precog_cli("run", "--duration", "1", "--no-ui", env=env)
    assert result.returncode == 4
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach Kalshi at http://127.0.0.1:9/trade-api/v2")
    assert "Traceback" not in result.stderr
