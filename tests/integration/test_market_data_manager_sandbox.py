"""MarketDataManager against the sandbox (REST + WebSocket over loopback) and the real test
database: markets found by polling are subscribed, stream updates reach the cache and the
database, a stream outage fails over to polling and back, and what is stored at the end
equals what the exchange serves."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.connection import Database
from precog.schedulers.market_data_manager import MarketDataManager, database_writer
from tests.plugins.kalshi_stream import ws_client
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("market_data_manager")

Prices = tuple[Decimal | None, ...]


def served(sandbox: RunningSandbox) -> dict[str, Prices]:
    with sandbox.exchange.lock():
        return {t: (m.yes_bid, m.yes_ask, m.last_price, m.volume)
                for t, m in sandbox.exchange.markets.items()}  # fmt: skip


def cached(manager: MarketDataManager) -> dict[str, Prices]:
    return {t: (q.yes_bid, q.yes_ask, q.last_price, q.volume) for t, q in manager.cache.items()}


def stored(url: str) -> dict[str, Prices]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ticker, yes_bid, yes_ask, last_price, volume FROM markets WHERE row_current_ind"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def client_for(sandbox: RunningSandbox) -> KalshiClient:
    return KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
    )


@pytest.mark.timeout(60)
async def test_stream_primary_with_poll_discovery_and_failover(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    async with client_for(sandbox) as client:
        manager = MarketDataManager(
            client, stream=ws_client(sandbox, idle_timeout=0.3, ping_timeout=0.3),
            writer=database_writer(db_pool),
            poll_interval=0.05, discovery_interval=3600, stale_after=3600,
        )  # fmt: skip
        await manager.start()
        try:
            n = len(sandbox.exchange.markets)
            await eventually_async(lambda: manager.stats.subscribed == n, what="subscribed")
            await eventually_async(lambda: manager.stream_up, what="stream up")
            polls = manager.stats.polls
            for _ in range(5):
                sandbox.exchange.step()
            await eventually_async(
                lambda: cached(manager) == served(sandbox), what="cache follows the stream"
            )
            assert manager.stats.stream_updates > 0
            assert {q.source for q in manager.cache.values()} >= {"stream"}
            # nothing was stale and the stream was up: no poll since discovery
            assert manager.stats.polls == polls

            # the stream goes down for a while: every market is polled until it is back
            sandbox.server.stream.configure(refuse_upgrades=25, drop=True)
            await eventually_async(lambda: manager.stats.failovers == 1, what="failover")
            sandbox.exchange.step(3)
            await eventually_async(lambda: manager.stats.switch_backs == 1, what="switch back")
            assert manager.stats.polls > polls  # polling served the markets meanwhile
            await eventually_async(
                lambda: cached(manager) == served(sandbox), what="cache equals the exchange"
            )
        finally:
            await manager.stop()
    summary = manager.summary()
    assert summary["queue_depth"] == 0
    assert summary["dropped"] == 0
    assert summary["versions_written"] > n
    assert stored(db_url) == served(sandbox)


@pytest.mark.timeout(60)
async def test_polling_alone_serves_every_market(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    async with client_for(sandbox) as client:
        manager = MarketDataManager(
            client, writer=database_writer(db_pool), poll_interval=0.02, stale_after=0
        )
        await manager.start()
        try:
            await eventually_async(lambda: manager.stats.polls >= 1, what="first poll")
            sandbox.exchange.step(2)
            await eventually_async(lambda: cached(manager) == served(sandbox), what="cache")
            assert {q.source for q in manager.cache.values()} == {"poll"}
        finally:
            await manager.stop()
    assert stored(db_url) == served(sandbox)
