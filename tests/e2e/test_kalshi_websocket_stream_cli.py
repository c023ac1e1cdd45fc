"""End to end: `precog stream` as a real subprocess follows markets on the sandbox's
WebSocket while the market moves, and its printed books equal the sandbox's books; an
unknown market exits 2 and an unreachable WebSocket exits 4, each with one error line."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest

from tests.plugins.cli_runner import PrecogCli
from tests.plugins.kalshi_stream import active_tickers
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("kalshi_websocket")


def test_stream_prints_the_books_the_sandbox_holds(
    precog_cli: PrecogCli, sandbox: RunningSandbox
) -> None:
    tickers = active_tickers(sandbox.exchange, 4)
    hub = sandbox.server.stream
    moved = threading.Event()

    def move_once_subscribed() -> None:
        eventually(lambda: len(hub.subscriptions()) == 2, timeout=60, what="subscribed")
        sandbox.exchange.step(10)
        moved.set()

    mover = threading.Thread(target=move_once_subscribed, daemon=True)
    mover.start()
    result = precog_cli(
        "stream", "--tickers", ",".join(tickers), "--duration", "1.5", "--json", env=sandbox.env
    )
    mover.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert moved.is_set(), "the market moved while the command listened"
    summary = json.loads(result.stdout)
    assert summary["url"] == sandbox.server.ws_url
    assert summary["stats"]["gaps"] == 0
    assert summary["stats"]["messages"] > len(tickers)  # deltas/tickers beyond the snapshots
    for row in summary["markets"]:
        market = sandbox.exchange.markets[row["ticker"]]
        assert row["synced"] is True
        assert Decimal(row["yes_bid"]) == market.yes_bid
        assert Decimal(row["yes_ask"]) == market.yes_ask
        assert Decimal(row["yes_bid_size"]) == market.yes_sizes[0]
        assert Decimal(row["no_bid"]) == market.no_bid


def test_stream_refuses_unknown_markets_and_unreachable_sockets(
    precog_cli: PrecogCli, sandbox: RunningSandbox
) -> None:
    unknown = precog_cli(
        "stream", "--tickers", "NO-SUCH-MARKET", "--duration", "1", env=sandbox.env
    )
    assert unknown.returncode == 2
    errors = [line for line in unknown.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: cannot subscribe to NO-SUCH-MARKET: Market not found (WebSocket error 16); "
        "check --tickers"
    ]
    assert "Traceback" not in unknown.stderr

    env = {**sandbox.env, "KALSHI_WS_URL": "ws://127.0.0.1:1/trade-api/ws/v2"}
    down = precog_cli("stream", "--markets", "1", "--connect-timeout", "0.5", env=env)
    assert down.returncode == 4
    assert "did not accept a connection within 0.5s" in down.stderr
    assert "Traceback" not in down.stderr
