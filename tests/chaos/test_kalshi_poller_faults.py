"""KalshiPoller under real faults: an exchange that fails whole cycles (5xx, resets,
truncated bodies) and a PostgreSQL server crashed and restarted while the loop runs. The loop
survives, counts what failed, and once the fault is gone the database equals the exchange."""

from __future__ import annotations

import asyncio

import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller
from precog.utils.retry import RetryPolicy
from tests.plugins.database import ChaosServer
from tests.plugins.market_history import current_markets, history_problems
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_poller")


def client_for(sandbox: RunningSandbox) -> KalshiClient:
    return KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
        retry_policy=RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002),
        timeout=5,
    )


def stored(url: str) -> dict[str, tuple[object, ...]]:
    assert history_problems(url) == 0
    return dict(current_markets(url))


def truth(sandbox: RunningSandbox) -> dict[str, tuple[object, ...]]:
    with sandbox.exchange._lock:
        return {t: (m.yes_bid, m.yes_ask, m.volume) for t, m in sandbox.exchange.markets.items()}


@pytest.mark.timeout(120)
async def test_failing_exchange_cycles_are_counted_and_the_loop_recovers(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    sandbox.exchange.add_markets(100)
    # Page requests fail often enough that whole cycles fail even after the retry.
    sandbox.faults.configure(error_rates={"/markets": 0.2}, reset_rate=0.05, malformed_rate=0.05)
    async with client_for(sandbox) as client:
        poller = KalshiPoller(client, DatabaseSink(db_pool), page_size=25, interval=0.01)
        async with asyncio.timeout(60):
            await poller.run(cycles=12)
        assert poller.stats.cycles == 12
        assert poller.stats.failed_cycles > 0  # the faults really broke cycles
        assert poller.stats.failed_cycles < 12  # and some got through
        sandbox.faults.reset()
        sandbox.exchange.step(2)
        async with asyncio.timeout(30):
            await poller.run(cycles=1)
    assert poller.stats.failed_cycles < poller.stats.cycles
    assert stored(db_url) == truth(sandbox)  # nothing lost, nothing partial


@pytest.mark.timeout(120)
async def test_database_crash_during_the_loop_then_every_market_is_current(
    sandbox: RunningSandbox, chaos_server: ChaosServer
) -> None:
    url = chaos_server.url
    db = Database(url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=0.5))  # fmt: skip
    await db.start()
    try:
        async with client_for(sandbox) as client:
            poller = KalshiPoller(client, DatabaseSink(db), page_size=10, interval=0.05)
            task = asyncio.create_task(poller.run())
            await eventually_async(lambda: poller.stats.cycles >= 2, timeout=30)
            chaos_server.crash()
            sandbox.exchange.step(3)  # the market moves while the database is down
            await eventually_async(
                lambda: poller.stats.failed_cycles >= 2, timeout=30, what="cycles failing"
            )
            assert not task.done()  # the loop survives its failed cycles
            chaos_server.restart()
            failed = poller.stats.failed_cycles
            done = poller.stats.cycles
            await eventually_async(
                lambda: poller.stats.cycles >= done + 2 and poller.stats.failed_cycles in
                (failed, failed + 1), timeout=30, what="cycles succeeding again",
            )  # fmt: skip
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert "DatabaseUnavailableError" in (poller.stats.last_error or "")
    finally:
        await db.close()
    assert stored(url) == truth(sandbox)
