"""Money with the venue's 6 decimals end to end (issue 11, defect 6): the sandbox serves
Kalshi's `fee_cost: "0.012345"`-style strings, `precog fetch fills` parses, stores and prints
them exactly; and impossible keys on the command line are bad input (defect 7): exit 2, one
line naming the field, no traceback."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest

from precog.sandbox.records import SimFill
from tests.plugins.cli_runner import PrecogCli
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("crud_operations")


def test_six_decimal_fees_travel_exactly_from_wire_to_database_to_json(
    precog_cli: PrecogCli, sandbox: RunningSandbox, db_env: dict[str, str]
) -> None:
    exchange = sandbox.exchange
    ticker = sorted(exchange.markets)[0]
    with exchange._lock:  # the sandbox serves requests from its own thread
        for seq, (fill_id, fee) in enumerate(
            [("fill-reference", "0.010000"), ("fill-sub-cent", "0.012345")], 10_000_000
        ):
            exchange.fills.append(
                SimFill(seq, fill_id, "order-1", ticker, "yes", Decimal("3"),
                        Decimal("0.4200"), Decimal(fee), exchange.now())
            )  # fmt: skip
    env = {**sandbox.env, **db_env}
    result = precog_cli("fetch", "fills", "--ticker", ticker, "--json", env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    printed = {f["fill_id"]: f["fee_cost"] for f in out["fills"]}
    assert printed["fill-reference"] == "0.010000"  # the reference's A3 example
    assert printed["fill-sub-cent"] == "0.012345"  # parsed exactly, not rounded
    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        stored = dict(conn.execute("SELECT venue_fill_id, fee_cost FROM fills").fetchall())
    assert stored["fill-sub-cent"] == Decimal("0.012345")
    assert stored == {k: Decimal(v) for k, v in printed.items()}  # every fee, exactly


@pytest.mark.parametrize(
    ("key", "problem"),
    [("T" * 6000, "key of 6000 bytes"), ("KX-\udcff", "lone surrogate")],
)
def test_an_impossible_key_is_a_usage_error_naming_the_field(
    precog_cli: PrecogCli, db_env: dict[str, str], key: str, problem: str
) -> None:
    result = precog_cli("db", "history", "markets", key, env=db_env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "markets.ticker" in lines[0]
    assert problem in lines[0]
    assert "Traceback" not in result.stderr
