"""`precog db ...` as a user runs it: embedded server on a fresh PRECOG_HOME, and a server URL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from precog.database import embedded, migrate
from tests.plugins.cli_runner import PrecogCli
from tests.plugins.database import FreshDatabase

pytestmark = pytest.mark.module("connection")

REVISIONS = migrate.script_revisions()  # oldest first
HEAD = REVISIONS[-1]


def test_upgrade_and_status_on_a_fresh_home_use_the_embedded_server(
    precog_cli: PrecogCli, fresh_precog_home: Path
) -> None:
    env = {"PRECOG_HOME": str(fresh_precog_home), "DATABASE_URL": ""}
    first = precog_cli("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert f"upgraded base -> {HEAD}" in first.stdout
    assert "embedded PostgreSQL" in first.stdout
    data_dir = fresh_precog_home / "postgres"
    assert (data_dir / "PG_VERSION").exists()
    # The server outlives the command, so the next command reuses it.
    assert embedded.is_running(data_dir)

    again = precog_cli("db", "upgrade", env=env)
    assert again.returncode == 0, again.stderr
    assert f"already at {HEAD}" in again.stdout

    status = precog_cli("db", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["current"] == payload["head"] == HEAD
    assert payload["pending"] == []
    assert payload["tables"]["platforms"] == 2
    assert payload["tables"]["markets"] == 0
    assert "precog_test" in payload["target"]

    stopped = precog_cli("db", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not embedded.is_running(data_dir)


def test_upgrade_status_reset_downgrade_against_a_server_url(
    precog_cli: PrecogCli, fresh_database: FreshDatabase
) -> None:
    url = fresh_database()
    env = {"DATABASE_URL": url}
    pending = precog_cli("db", "status", env=env)
    assert pending.returncode == 0, pending.stderr
    assert "revision: base (empty)" in pending.stdout
    assert ", ".join(REVISIONS) in pending.stdout

    assert precog_cli("db", "upgrade", env=env).returncode == 0
    status = precog_cli("db", "status", env=env)
    assert f"revision: {HEAD}" in status.stdout
    assert "pending:  none" in status.stdout
    assert "game_states" in status.stdout

    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO system_health (component, status) VALUES ('x', 'ok')")

    unconfirmed = precog_cli("db", "reset", env=env, input="n\n")
    assert unconfirmed.returncode == 1
    refused = precog_cli("db", "reset", "--yes", env={**env, "PRECOG_ENV": "staging"})
    assert refused.returncode == 3
    assert "PRECOG_PROD_CONFIRMED=yes" in refused.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM system_health").fetchone() == (1,)

    reset = precog_cli("db", "reset", "--yes", env=env)
    assert reset.returncode == 0, reset.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM system_health").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM platforms").fetchone() == (2,)

    down = precog_cli("db", "downgrade", "--revision", "base", "--yes", env=env)
    assert down.returncode == 0, down.stderr
    assert json.loads(precog_cli("db", "status", "--json", env=env).stdout)["current"] is None


def test_seed_refuses_paths_outside_the_seeds_directory(
    precog_cli: PrecogCli, db_env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "seeds").mkdir(parents=True)
    (home / "seeds" / "ok.sql").write_text(
        "INSERT INTO system_health (component, status) VALUES ('seed', 'ok');"
    )
    (tmp_path / "evil.sql").write_text("DROP TABLE markets CASCADE;")
    (home / "seeds" / "link.sql").symlink_to(tmp_path / "evil.sql")
    env = {**db_env, "PRECOG_HOME": str(home)}
    for bad in ("../../evil.sql", "link.sql", str(tmp_path / "evil.sql")):
        result = precog_cli("db", "seed", bad, env=env)
        assert result.returncode == 2, (bad, result.stderr)
        assert result.stderr.startswith("error: refusing"), result.stderr
        assert "Traceback" not in result.stderr
    ok = precog_cli("db", "seed", "ok.sql", env=env)
    assert ok.returncode == 0, ok.stderr
    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT to_regclass('markets') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT component FROM system_health").fetchall() == [("seed",)]


def test_unreachable_server_and_guard_refusal_are_one_line_errors(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    down = f"postgresql://trader:hunter2@/precog_test?host={tmp_path}&port=5999"
    result = precog_cli("db", "status", env={"DATABASE_URL": down})
    assert result.returncode == 4
    assert result.stderr.startswith("error: database server unreachable")
    assert "hunter2" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    wrong = precog_cli("db", "status", env={"DATABASE_URL": "postgresql://h/precog_prod"})
    assert wrong.returncode == 3
    assert "refusing database 'precog_prod'" in wrong.stderr


def test_fetch_on_an_unmigrated_database_says_to_upgrade(
    precog_cli: PrecogCli, fresh_database: FreshDatabase
) -> None:
    env = {"DATABASE_URL": fresh_database(), "KALSHI_MODE": "sandbox", "KALSHI_API_BASE_URL": ""}
    result = precog_cli("fetch", "balance", env=env)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "schema revision base (empty)" in errors[0]
    assert f"needs {HEAD}: run `precog db upgrade`" in errors[0]
    assert "Traceback" not in result.stderr
