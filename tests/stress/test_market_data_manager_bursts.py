"""MarketDataManager following three hundred markets through bursts of stream updates with a
small persistence queue (backpressure all the way): the cache and the database end equal to
the exchange, every version taken in is stored, and memory does not grow per burst."""

from __future__ import annotations

import gc
import tracemalloc
from decimal import Decimal

import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.connection import Database
from precog.schedulers.market_data_manager import MarketDataManager, database_writer
from tests.plugins.kalshi_stream import ws_client
from tests.plugins.market_history import (
    NOT_OURS,
    current_markets,
    history_problems,
    stored_versions,
)
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("market_data_manager")

MARKETS = 300
BURSTS = 2


def served(sandbox: RunningSandbox) -> dict[str, tuple[Decimal | None, ...]]:
    with sandbox.exchange.lock():
        return {t: (m.yes_bid, m.yes_ask, m.volume)
                for t, m in sandbox.exchange.markets.items()}  # fmt: skip


@pytest.mark.timeout(120)
async def test_bursts_over_many_markets_stay_exact_and_bounded(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    sandbox.exchange.add_markets(MARKETS - len(sandbox.exchange.markets))
    async with KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
    ) as client:
        manager = MarketDataManager(
            client, stream=ws_client(sandbox), writer=database_writer(db_pool),
            queue_size=200, batch_size=100, poll_interval=0.05,
            discovery_interval=3600, stale_after=3600,
        )  # fmt: skip
        await manager.start()
        try:
            await eventually_async(lambda: manager.stats.subscribed == MARKETS, timeout=60)
            await eventually_async(lambda: manager.stream_up, timeout=30)
            memory: list[int] = []
            gc.collect()
            tracemalloc.start()
            try:
                for _ in range(BURSTS):
                    sandbox.exchange.step(3)
                    await eventually_async(
                        lambda: {t: (q.yes_bid, q.yes_ask, q.volume)
                                 for t, q in manager.cache.items()} == served(sandbox),
                        timeout=60, what="cache equals the exchange after a burst",
                    )  # fmt: skip
                    await eventually_async(lambda: manager.summary()["queue_depth"] == 0)
                    gc.collect()
                    kept = tracemalloc.take_snapshot().filter_traces(NOT_OURS)
                    memory.append(sum(s.size for s in kept.statistics("filename")))
            finally:
                tracemalloc.stop()
        finally:
            await manager.stop()
    summary = manager.summary()
    assert summary["stream_updates"] > MARKETS  # bursts really went through the stream
    assert summary["dropped"] == summary["unflushed"] == summary["queue_depth"] == 0
    assert len(manager.cache) == MARKETS
    assert current_markets(db_url) == served(sandbox)
    assert stored_versions(db_url) == summary["versions_written"]
    assert history_problems(db_url) == 0
    # the cache holds one quote and one base snapshot per market, replaced in place: the
    # second burst over every market adds (almost) nothing to what the first left behind
    assert memory[1] - memory[0] < 300_000, memory
