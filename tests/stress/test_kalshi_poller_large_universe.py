"""KalshiPoller over a thousand markets for several cycles: every state the exchange
served is a version, nothing twice, nothing missing, and memory does not grow per cycle."""

from __future__ import annotations

import gc
import tracemalloc
from decimal import Decimal

import psycopg
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database.connection import Database
from precog.database.scd2 import UpsertResult
from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller
from tests.plugins.market_history import NOT_OURS  # the sandbox's and the test's own data
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_poller")

EXTRA = 1_000
CYCLES = 3


def served(sandbox: RunningSandbox) -> dict[str, tuple[Decimal | None, ...]]:
    with sandbox.exchange._lock:
        return {t: (m.yes_bid, m.yes_ask, m.last_price, m.volume, m.open_interest)
                for t, m in sandbox.exchange.markets.items()}  # fmt: skip


@pytest.mark.timeout(120)
async def test_cycles_over_a_thousand_markets_store_every_state_once(
    sandbox: RunningSandbox, db_pool: Database, db_url: str
) -> None:
    sandbox.exchange.add_markets(EXTRA)
    states = [served(sandbox)]
    n = len(states[0])
    retained = 0
    async with KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
    ) as client:
        poller = KalshiPoller(client, DatabaseSink(db_pool))
        assert (await poller.poll_once(keep=False)).stored == UpsertResult(created=n)
        for cycle in range(CYCLES):
            sandbox.exchange.step()
            states.append(served(sandbox))
            last = cycle == CYCLES - 1
            if last:  # trace one steady-state cycle: what it allocates and keeps is a leak
                gc.collect()
                tracemalloc.start()
            try:
                poll = await poller.poll_once(keep=False)
                if last:
                    gc.collect()
                    kept = tracemalloc.take_snapshot().filter_traces(NOT_OURS)
                    retained = sum(stat.size for stat in kept.statistics("filename"))
            finally:
                if last:
                    tracemalloc.stop()
            assert poll.seen == n

    expected_versions = {
        t: 1 + sum(states[i][t] != states[i - 1][t] for i in range(1, len(states)))
        for t in states[0]
    }
    with psycopg.connect(db_url) as conn:
        versions = dict(conn.execute(
            "SELECT ticker, count(*) FROM markets GROUP BY ticker").fetchall())  # fmt: skip
        current = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT ticker, yes_bid, yes_ask, last_price, volume, open_interest FROM markets "
            "WHERE row_current_ind").fetchall()}  # fmt: skip
        gaps = conn.execute(
            "SELECT count(*) FROM (SELECT row_end_ts, lead(row_start_ts) OVER "
            "(PARTITION BY market_id ORDER BY row_start_ts) AS nxt FROM markets) v "
            "WHERE nxt IS NOT NULL AND nxt <> row_end_ts").fetchone()  # fmt: skip
    assert versions == expected_versions
    assert current == states[-1]
    assert gaps == (0,)
    assert poller.stats.stored.written == sum(expected_versions.values())
    # No per-cycle growth: a steady-state cycle over a thousand markets keeps almost
    # nothing of what it allocated (pages, records, snapshots are all released).
    assert retained < 200_000, retained
