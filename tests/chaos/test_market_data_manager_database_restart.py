"""The database crashes (`pg_ctl stop -m immediate`) while the manager follows a moving
market over the stream, and comes back: the updates taken in meanwhile were held and then
written, and every market state the sandbox sent over the socket (its own record of sent
frames) is in the stored histories, in order."""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.schedulers.market_data_manager import MarketDataManager, database_writer
from tests.plugins.database import ChaosServer
from tests.plugins.kalshi_stream import ws_client
from tests.plugins.market_history import history_problems, stored_versions
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("market_data_manager")

State = tuple[Decimal, Decimal]


def sent_states(sandbox: RunningSandbox) -> dict[str, list[State]]:
    """Per market, the (yes bid, yes ask) of every ticker frame the sandbox sent, in order."""
    out: dict[str, list[State]] = {}
    for frame in list(sandbox.server.stream.sent):
        message = json.loads(frame.text)
        if message.get("type") != "ticker":
            continue
        body = message["msg"]
        out.setdefault(body["market_ticker"], []).append(
            (Decimal(body["yes_bid_dollars"]), Decimal(body["yes_ask_dollars"]))
        )
    return out


def collapse(states: list[State]) -> list[State]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def is_subsequence(needle: list[State], haystack: list[State]) -> bool:
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


@pytest.mark.timeout(120)
async def test_database_crash_holds_updates_and_loses_none(
    sandbox: RunningSandbox, chaos_server: ChaosServer
) -> None:
    url = chaos_server.url
    db = Database(url, env=Environment.TEST, description="chaos server",
                  settings=PoolSettings(min_size=1, max_size=2, timeout=2))  # fmt: skip
    await db.start()
    try:
        async with KalshiClient(
            sandbox.base_url,
            signer=sandbox.signer,
            limiter=AccountLimiter(Tier.PRIME),
            public_limiter=AccountLimiter(Tier.PRIME),
        ) as client:
            manager = MarketDataManager(
                client, stream=ws_client(sandbox), writer=database_writer(db),
                poll_interval=0.05, discovery_interval=3600, stale_after=3600,
            )  # fmt: skip
            queue = manager.queue
            assert queue is not None
            queue.retry_delay = 0.05
            await manager.start()
            try:
                n = len(sandbox.exchange.markets)
                await eventually_async(lambda: manager.stats.subscribed == n and manager.stream_up)
                sandbox.exchange.step(2)
                await eventually_async(lambda: queue.depth == 0 and queue.stats.written.written > n)
                chaos_server.crash()
                for _ in range(4):  # the market keeps moving; the stream keeps delivering
                    sandbox.exchange.step()
                    await eventually_async(lambda: queue.database_down, timeout=30)
                held = queue.depth
                assert held > 0
                chaos_server.restart()
                await eventually_async(
                    lambda: queue.depth == 0 and not queue.database_down, timeout=60
                )
            finally:
                await manager.stop()
    finally:
        await db.close()

    summary = manager.summary()
    assert summary["write_failures"] > 0  # the crash really hit the writer
    assert summary["dropped"] == summary["unflushed"] == 0
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ticker, yes_bid, yes_ask FROM markets ORDER BY ticker, row_start_ts"
        ).fetchall()
    stored: dict[str, list[State]] = {}
    for ticker, bid, ask in rows:
        stored.setdefault(ticker, []).append((bid, ask))
    assert stored_versions(url) == summary["versions_written"]
    assert history_problems(url) == 0
    sent = sent_states(sandbox)
    assert sent  # the stream really carried updates
    for ticker, states in sent.items():
        assert is_subsequence(collapse(states), collapse(stored[ticker])), ticker
    with sandbox.exchange.lock():
        truth = {t: (m.yes_bid, m.yes_ask) for t, m in sandbox.exchange.markets.items()}
    assert {t: s[-1] for t, s in stored.items()} == truth
