"""Two pollers (own clients, own connection pools) poll the same markets into one database
while the exchange keeps moving in another thread: histories stay gap-free and without
overlaps, no two consecutive versions are equal, and the last state wins."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller
from tests.plugins.market_history import history_problems, repeated_versions
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_poller")

ROUNDS = 6


def database(url: str) -> Database:
    return Database(url, env=Environment.TEST, description="race",
                    settings=PoolSettings(min_size=1, max_size=2, timeout=10))  # fmt: skip


@pytest.mark.timeout(120)
async def test_two_pollers_racing_a_moving_exchange_keep_history_valid(
    sandbox: RunningSandbox, db_url: str
) -> None:
    sandbox.exchange.add_markets(150)
    stop = threading.Event()

    def mover() -> None:  # the exchange moves while both pollers read and write
        while not stop.wait(0.01):
            sandbox.exchange.step()

    thread = threading.Thread(target=mover, daemon=True)
    pollers: list[KalshiPoller] = []

    async def poll_rounds(db: Database, page_size: int) -> None:
        async with KalshiClient(
            sandbox.base_url,
            signer=sandbox.signer,
            limiter=AccountLimiter(Tier.PRIME),
            public_limiter=AccountLimiter(Tier.PRIME),
        ) as client:
            poller = KalshiPoller(client, DatabaseSink(db), page_size=page_size)
            pollers.append(poller)
            for _ in range(ROUNDS):
                await poller.poll_once(keep=False)

    a, b = database(db_url), database(db_url)
    await a.start()
    await b.start()
    thread.start()
    try:
        async with asyncio.timeout(90):
            await asyncio.gather(poll_rounds(a, 50), poll_rounds(b, 70))
    finally:
        stop.set()
        thread.join(10)
    try:
        async with KalshiClient(sandbox.base_url, signer=sandbox.signer) as client:
            final = KalshiPoller(client, DatabaseSink(a))
            await final.poll_once(keep=False)  # the exchange is still now: this is the truth
    finally:
        await a.close()
        await b.close()

    assert all(p.stats.failed_cycles == 0 for p in pollers)
    assert history_problems(db_url) == 0
    assert repeated_versions(db_url) == 0  # a new version only when something changed
    with psycopg.connect(db_url) as conn:
        current = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT ticker, yes_bid, yes_ask, volume FROM markets WHERE row_current_ind"
        ).fetchall()}  # fmt: skip
        versions = conn.execute("SELECT count(*) FROM markets").fetchone()
    with sandbox.exchange._lock:
        truth = {t: (m.yes_bid, m.yes_ask, m.volume)
                 for t, m in sandbox.exchange.markets.items()}  # fmt: skip
    assert current == truth
    assert versions is not None
    assert versions[0] > len(truth)
