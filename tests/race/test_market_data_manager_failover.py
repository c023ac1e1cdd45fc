"""Failover and switch-back racing with updates: the exchange moves continuously in another
thread while the stream is dropped again and again, so stream updates, fallback polls and
reconnect replays interleave. Histories stay valid (no gap, no overlap, no repeated
version) and the final cache and database equal the exchange. And two `precog run`
processes writing the same markets into one database keep the histories valid."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.connection import Database
from precog.schedulers.market_data_manager import MarketDataManager, database_writer
from tests.plugins.cli_runner import subprocess_env
from tests.plugins.kalshi_stream import ws_client
from tests.plugins.market_history import (
    current_markets,
    history_problems,
    repeated_versions,
    stored_versions,
)
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("market_data_manager")

DROPS = 4


@pytest.mark.timeout(120)
async def test_failovers_racing_updates_keep_history_valid(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    stop = threading.Event()

    def mover() -> None:
        while not stop.wait(0.005):
            sandbox.exchange.step()

    def served() -> dict[str, tuple[object, ...]]:
        with sandbox.exchange.lock():
            return {t: (m.yes_bid, m.yes_ask, m.volume)
                    for t, m in sandbox.exchange.markets.items()}  # fmt: skip

    async with KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
    ) as client:
        manager = MarketDataManager(
            client, stream=ws_client(sandbox, idle_timeout=0.3, ping_timeout=0.3),
            writer=database_writer(db_pool), poll_interval=0.01, discovery_interval=0.2,
            stale_after=0.1, batch_size=50,
        )  # fmt: skip
        await manager.start()
        thread = threading.Thread(target=mover, daemon=True)
        try:
            await eventually_async(lambda: manager.stream_up and manager.stats.subscribed > 0)
            thread.start()
            await eventually_async(lambda: manager.stats.stream_updates > 0, what="stream flows")
            for drop in range(1, DROPS + 1):
                sandbox.server.stream.configure(drop=True)
                await eventually_async(lambda d=drop: manager.stats.failovers >= d, timeout=30)
                await eventually_async(lambda d=drop: manager.stats.switch_backs >= d, timeout=30)
            stop.set()
            thread.join(10)
            await eventually_async(
                lambda: {t: (q.yes_bid, q.yes_ask, q.volume)
                         for t, q in manager.cache.items()} == served(),
                timeout=30, what="cache settles on the exchange's state",
            )  # fmt: skip
        finally:
            stop.set()
            await manager.stop()
    assert manager.stats.failovers == manager.stats.switch_backs >= DROPS
    assert manager.stats.stream_updates > 0
    assert manager.stats.polls > 0
    assert history_problems(db_url) == 0
    assert repeated_versions(db_url) == 0
    assert current_markets(db_url) == served()
    assert stored_versions(db_url) == manager.summary()["versions_written"]


@pytest.mark.timeout(120)
def test_two_run_processes_writing_the_same_markets_keep_history_valid(
    sandbox: RunningSandbox, db_env: dict[str, str], gate_python: list[str]
) -> None:
    """Two `precog run` processes follow the same moving markets into one database."""
    url = db_env["DATABASE_URL"]
    env = subprocess_env({**sandbox.env, **db_env})
    stop = threading.Event()

    def mover() -> None:
        while not stop.wait(0.05):
            sandbox.exchange.step()

    series = ",".join(sorted(sandbox.exchange.series))
    command = [*gate_python, "-m", "precog", "run", "--duration", "3", "--json", "--series", series]
    thread = threading.Thread(target=mover, daemon=True)
    thread.start()
    try:
        procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        outputs = [p.communicate(timeout=90) for p in procs]
    finally:
        stop.set()
        thread.join(10)
    written = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        summary = json.loads(out)["markets"]
        written += summary["versions_written"]
        assert summary["markets"] == len(sandbox.exchange.markets), (out, err[-3000:])
        assert summary["dropped"] == summary["unflushed"] == 0
    assert history_problems(url) == 0  # one current row, no gap, no overlap across writers
    assert repeated_versions(url) == 0
    assert len(current_markets(url)) == len(sandbox.exchange.markets)
    # every stored version was written by exactly one of the two processes
    assert stored_versions(url) == written
