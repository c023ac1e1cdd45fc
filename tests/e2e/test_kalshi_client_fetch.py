"""`precog fetch ...` as a user runs it: a real subprocess against an exchange (the sandbox,
or Kalshi demo with --kalshi-target=demo) and a real test database; asserts on output, exit
codes and the rows written."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from precog.sandbox.exchange import SandboxExchange
from tests.plugins.cli_runner import PrecogCli
from tests.plugins.kalshi_target import KalshiTarget
from tests.plugins.sandbox import RunningSandbox, SandboxFactory, new_rsa_key, write_private_key

pytestmark = pytest.mark.module("kalshi_client")


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def fetch(precog_cli: PrecogCli, env: dict[str, str], *args: str) -> tuple[dict[str, Any], str]:
    result = precog_cli("fetch", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_fetch_markets_json_dry_run_lists_every_market(
    precog_cli: PrecogCli, kalshi_target: KalshiTarget
) -> None:
    out, _ = fetch(precog_cli, kalshi_target.env, "markets", "--dry-run", "--page-size", "7")
    tickers = [m["ticker"] for m in out["markets"]]
    assert len(tickers) == len(set(tickers))
    assert out["stored"] is None
    assert out["parse_errors"] == 0
    if kalshi_target.sandbox is not None:
        exchange = kalshi_target.sandbox.exchange
        assert set(tickers) == set(exchange.markets)
        first = exchange.markets[tickers[0]]
        # prices travel as exact dollar strings
        assert Decimal(out["markets"][0]["yes_bid"]) == first.yes_bid


def test_fetch_markets_upsert_pattern(
    precog_cli: PrecogCli, kalshi_target: KalshiTarget, db_env: dict[str, str]
) -> None:
    env = {**kalshi_target.env, **db_env}
    url = db_env["DATABASE_URL"]
    first, _ = fetch(precog_cli, env, "markets")
    n = len(first["markets"])
    assert first["stored"]["created"] == n
    current = rows(url, "SELECT ticker, yes_bid, status FROM markets WHERE row_current_ind")
    assert len(current) == n
    assert {r[0] for r in current} == {m["ticker"] for m in first["markets"]}
    # parents were created from the exchange's event data
    assert rows(url, "SELECT count(*) FROM markets m LEFT JOIN events e USING (event_id) "
                "WHERE e.event_id IS NULL")[0][0] == 0  # fmt: skip

    again, _ = fetch(precog_cli, env, "markets")
    if kalshi_target.sandbox is None:
        return
    assert again["stored"] == {"created": 0, "updated": 0, "unchanged": n, "stale": 0}
    assert rows(url, "SELECT count(*) FROM markets")[0][0] == n  # no new versions

    exchange = kalshi_target.sandbox.exchange
    exchange.step(5)  # prices move
    moved = {
        t for t, m in exchange.markets.items()
        if (m.yes_bid, m.yes_ask) != next(
            (Decimal(x["yes_bid"]), Decimal(x["yes_ask"]))
            for x in first["markets"] if x["ticker"] == t
        )
    }  # fmt: skip
    third, _ = fetch(precog_cli, env, "markets")
    assert third["stored"]["updated"] >= len(moved) > 0
    assert third["stored"]["created"] == 0
    assert rows(url, "SELECT count(*) FROM markets WHERE row_current_ind")[0][0] == n
    ticker = sorted(moved)[0]
    history = rows(
        url,
        "SELECT yes_bid, row_start_ts, row_end_ts FROM markets WHERE ticker = %s "
        "ORDER BY row_start_ts",
        ticker,
    )
    assert len(history) == 2
    assert history[0][2] == history[1][1]  # old version closed exactly when the new began
    assert history[1][0] == exchange.markets[ticker].yes_bid


def test_fetch_balance_updates_with_scd_type2(
    precog_cli: PrecogCli, kalshi_target: KalshiTarget, db_env: dict[str, str]
) -> None:
    env = {**kalshi_target.env, **db_env}
    url = db_env["DATABASE_URL"]
    first, _ = fetch(precog_cli, env, "balance")
    assert first["stored"]["created"] == 1
    stored = rows(url, "SELECT balance FROM account_balance WHERE row_current_ind")
    assert stored == [(Decimal(first["balance"]["balance"]),)]
    if kalshi_target.sandbox is None:
        return
    exchange = kalshi_target.sandbox.exchange
    assert stored[0][0] == exchange.balance  # dollars, not cents

    unchanged, _ = fetch(precog_cli, env, "balance")
    assert unchanged["stored"]["unchanged"] == 1
    assert rows(url, "SELECT count(*) FROM account_balance")[0][0] == 1

    exchange.balance += Decimal("12.3400")
    changed, _ = fetch(precog_cli, env, "balance")
    assert changed["stored"]["updated"] == 1
    history = rows(
        url,
        "SELECT balance, row_start_ts, row_end_ts, row_current_ind FROM account_balance "
        "ORDER BY row_start_ts",
    )
    assert [h[0] for h in history] == [exchange.balance - Decimal("12.34"), exchange.balance]
    assert history[0][2] == history[1][1]
    assert [h[3] for h in history] == [False, True]


def test_fetch_positions_and_fills_persist(
    precog_cli: PrecogCli, kalshi_target: KalshiTarget, db_env: dict[str, str]
) -> None:
    env = {**kalshi_target.env, **db_env}
    url = db_env["DATABASE_URL"]
    positions, _ = fetch(precog_cli, env, "positions")
    fills, _ = fetch(precog_cli, env, "fills")
    again, _ = fetch(precog_cli, env, "fills")
    assert again["stored"] == {"inserted": 0, "duplicates": len(fills["fills"])}
    assert rows(url, "SELECT count(*) FROM fills")[0][0] == len(fills["fills"])
    held = {
        (p["ticker"], "yes" if Decimal(p["position"]) > 0 else "no"): abs(Decimal(p["position"]))
        for p in positions["market_positions"]
        if Decimal(p["position"]) != 0
    }
    stored = rows(url, "SELECT ticker, side, quantity FROM positions WHERE row_current_ind")
    assert {(t, s): q for t, s, q in stored if q != 0} == held
    if kalshi_target.sandbox is not None:
        assert len(fills["fills"]) == len(kalshi_target.sandbox.exchange.fills)


def test_fetch_settlements_creates_records_and_updates_market_status(
    precog_cli: PrecogCli, kalshi_target: KalshiTarget, db_env: dict[str, str]
) -> None:
    env = {**kalshi_target.env, **db_env}
    url = db_env["DATABASE_URL"]
    fetch(precog_cli, env, "markets")
    ticker = None
    if kalshi_target.sandbox is not None:  # settle a market we hold and saw trading
        exchange = kalshi_target.sandbox.exchange
        ticker = sorted(t for t, p in exchange.positions.items() if not p.settled)[0]
        assert rows(url, "SELECT status FROM markets WHERE ticker = %s AND row_current_ind",
                    ticker) == [("active",)]  # fmt: skip
        exchange.settle_market(ticker)

    out, _ = fetch(precog_cli, env, "settlements")
    n = len(out["settlements"])
    assert out["stored"] == {"inserted": n, "duplicates": 0}
    assert rows(url, "SELECT count(*) FROM settlements")[0][0] == n
    stored = dict(rows(url, "SELECT ticker, revenue FROM settlements"))
    for settlement in out["settlements"]:
        assert stored[settlement["ticker"]] == Decimal(settlement["revenue"])
    # every settled market we know is now finalized with the venue's result
    results = {s["ticker"]: s["market_result"] for s in out["settlements"]}
    current = rows(
        url,
        "SELECT ticker, status, result FROM markets WHERE row_current_ind AND ticker = ANY(%s)",
        list(results),
    )
    assert current
    assert all(status == "finalized" and result == results[t] for t, status, result in current)

    if kalshi_target.sandbox is not None:
        exchange = kalshi_target.sandbox.exchange
        assert n == len(exchange.settlements)
        assert ticker in results
        expected = next(
            Decimal(s.revenue_cents) / 100 for s in exchange.settlements if s.ticker == ticker
        )
        assert stored[ticker] == expected  # integer cents stored as dollars
        assert results[ticker] == exchange.markets[ticker].result
        history = rows(url, "SELECT status FROM markets WHERE ticker = %s ORDER BY row_start_ts",
                       ticker)  # fmt: skip
        assert history == [("active",), ("finalized",)]

    again, _ = fetch(precog_cli, env, "settlements")
    assert again["stored"] == {"inserted": 0, "duplicates": n}
    assert rows(url, "SELECT count(*) FROM settlements")[0][0] == n


def test_fetch_settlements_empty_response(
    precog_cli: PrecogCli, sandbox_factory: SandboxFactory, db_env: dict[str, str]
) -> None:
    empty = sandbox_factory(markets=5)  # too few markets for any to have settled
    assert empty.exchange.settlements == []
    env = {**empty.env, **db_env}
    out, _ = fetch(precog_cli, env, "settlements")
    assert out == {"settlements": [], "stored": {"inserted": 0, "duplicates": 0}}
    table = precog_cli("fetch", "settlements", env=env)
    assert table.returncode == 0, table.stderr
    assert "no settlements" in table.stdout
    assert rows(db_env["DATABASE_URL"], "SELECT count(*) FROM settlements")[0][0] == 0


def test_fetch_without_a_url_starts_the_local_sandbox(precog_cli: PrecogCli) -> None:
    no_target = {"KALSHI_MODE": "sandbox", "KALSHI_API_BASE_URL": "",
                 "TEST_KALSHI_API_KEY": "", "TEST_KALSHI_PRIVATE_KEY_PATH": ""}  # fmt: skip
    result = precog_cli("fetch", "markets", "--dry-run", "--json", env=no_target)
    assert result.returncode == 0, result.stderr
    markets = json.loads(result.stdout)["markets"]
    reference = SandboxExchange(seed=0, markets=50)  # the in-process sandbox's universe
    assert len(markets) == len(reference.markets)


def test_fetch_error_exit_codes(
    precog_cli: PrecogCli, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    missing = precog_cli(
        "fetch", "balance", "--dry-run",
        env={"KALSHI_MODE": "demo", "KALSHI_API_BASE_URL": sandbox.base_url,
             "TEST_KALSHI_API_KEY": "", "TEST_KALSHI_PRIVATE_KEY_PATH": ""},
    )  # fmt: skip
    assert missing.returncode == 2
    assert "TEST_KALSHI_API_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr

    stranger = write_private_key(new_rsa_key(), tmp_path / "stranger.key")
    refused = precog_cli(
        "fetch", "balance", "--dry-run",
        env={**sandbox.env, "TEST_KALSHI_API_KEY": "00000000-0000-4000-8000-0000000000aa",
             "TEST_KALSHI_PRIVATE_KEY_PATH": str(stranger)},
    )  # fmt: skip
    assert refused.returncode == 1
    assert "unknown key" in refused.stderr
    assert "Traceback" not in refused.stderr

    down = precog_cli(
        "fetch", "markets", "--dry-run",
        env={**sandbox.env, "KALSHI_API_BASE_URL": "http://127.0.0.1:9/trade-api/v2"},
    )  # fmt: skip
    assert down.returncode == 4
    assert "cannot reach Kalshi" in down.stderr
    assert "Traceback" not in down.stderr


def test_fetch_fills_imports_history_before_the_cutoff(
    precog_cli: PrecogCli, sandbox: RunningSandbox, db_env: dict[str, str]
) -> None:
    # An older account: half of its fills are only served by GET /historical/fills.
    exchange = sandbox.exchange
    times = sorted({f.created_time for f in exchange.fills})
    exchange.historical_cutoff = times[len(times) // 2]
    old = {f.fill_id for f in exchange.fills if f.created_time < exchange.historical_cutoff}
    assert old
    env = {**sandbox.env, **db_env}
    out, _ = fetch(precog_cli, env, "fills")
    printed = [f["fill_id"] for f in out["fills"]]
    assert sorted(printed) == sorted(f.fill_id for f in exchange.fills)
    stored = {r[0] for r in rows(db_env["DATABASE_URL"], "SELECT venue_fill_id FROM fills")}
    assert stored == {f.fill_id for f in exchange.fills}
    assert old <= stored
    again, _ = fetch(precog_cli, env, "fills")
    assert again["stored"] == {"inserted": 0, "duplicates": len(exchange.fills)}
