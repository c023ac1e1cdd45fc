"""`precog fetch markets` as a user runs it, now backed by the poller: a summary line and the
first rows of the table (--limit, --all), JSON complete, and the rows stored."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.plugins.cli_runner import PrecogCli
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_poller")


def table_rows(stdout: str, tickers: set[str]) -> list[str]:
    return [line for line in stdout.splitlines() if any(t in line for t in tickers)]


def test_fetch_markets_prints_a_summary_and_the_first_rows(
    precog_cli: PrecogCli, sandbox: RunningSandbox, db_env: dict[str, str]
) -> None:
    env = {**sandbox.env, **db_env}
    tickers = set(sandbox.exchange.markets)
    n = len(tickers)
    result = precog_cli("fetch", "markets", "--limit", "5", "--page-size", "20", env=env)
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line == f"{n} markets fetched in 3 pages; stored: {n} created, 0 updated, " \
        "0 unchanged, 0 stale"  # fmt: skip
    assert len(table_rows(result.stdout, tickers)) == 5
    assert f"first 5 of {n} rows shown" in result.stdout
    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM markets WHERE row_current_ind").fetchone()
    assert row == (n,)

    every = precog_cli("fetch", "markets", "--all", "--dry-run", env=env)
    assert every.returncode == 0, every.stderr
    assert len(table_rows(every.stdout, tickers)) == n
    assert "rows shown" not in every.stdout
    assert "dry run: nothing stored" in every.stdout.splitlines()[0]

    full = precog_cli("fetch", "markets", "--json", "--limit", "1", env=env)
    body = json.loads(full.stdout)
    assert {m["ticker"] for m in body["markets"]} == tickers  # JSON ignores --limit
    assert body["stored"] == {"created": 0, "updated": 0, "unchanged": n, "stale": 0}
