"""`precog fetch positions` after a market settles (issue 11, defect 8): Kalshi drops settled
positions from its default answer (reference A4.10), the sandbox does the same, and the
stored position is closed instead of holding its contracts forever."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from tests.plugins.cli_runner import PrecogCli
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("crud_operations")


def test_a_settled_position_is_closed_by_the_next_fetch(
    precog_cli: PrecogCli, sandbox: RunningSandbox, db_env: dict[str, str]
) -> None:
    env = {**sandbox.env, **db_env}
    exchange = sandbox.exchange

    def fetch() -> dict[str, Any]:
        result = precog_cli("fetch", "positions", "--json", env=env)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    fetch()
    ticker, position = next(
        (t, p) for t, p in sorted(exchange.positions.items()) if not p.settled and p.position
    )
    side = "yes" if position.position > 0 else "no"
    held = abs(position.position)
    exchange.settle_market(ticker)
    # the exchange's default answer no longer lists it; settlement_status=all still does
    assert ticker not in {p["ticker"] for p in exchange.list_positions({})["market_positions"]}
    every = exchange.list_positions({"settlement_status": "all", "limit": "1000"})
    assert ticker in {p["ticker"] for p in every["market_positions"]}

    out = fetch()
    assert ticker not in {p["ticker"] for p in out["market_positions"]}
    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        history = conn.execute(
            "SELECT quantity, row_current_ind FROM positions WHERE ticker = %s AND side = %s "
            "ORDER BY row_start_ts",
            (ticker, side),
        ).fetchall()
        still_open = conn.execute(
            "SELECT count(*) FROM positions WHERE row_current_ind AND quantity <> 0"
        ).fetchone()
    assert history == [(held, False), (Decimal("0.00"), True)]
    unsettled = [p for p in exchange.positions.values() if not p.settled and p.position]
    assert still_open == (len(unsettled),)  # every other open position is still held
