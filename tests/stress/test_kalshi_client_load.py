"""kalshi_client beyond normal load: 10k+ markets through cursor pagination, and hundreds
of concurrent requests through one account limiter, against the sandbox over loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from precog.api_connectors.kalshi_client import ClientState, KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, BucketSpec, Tier, TierLimits
from tests.plugins.sandbox import RunningSandbox, SandboxFactory

pytestmark = pytest.mark.module("kalshi_client")


@pytest.fixture
def big_sandbox(sandbox_factory: SandboxFactory) -> RunningSandbox:
    running = sandbox_factory(markets=50)
    running.exchange.add_markets(10_000)
    return running


async def test_pagination_over_10k_markets_has_no_duplicates_or_gaps(
    big_sandbox: RunningSandbox,
) -> None:
    expected = set(big_sandbox.exchange.markets)
    assert len(expected) >= 10_050
    client = KalshiClient(
        big_sandbox.base_url,
        signer=big_sandbox.signer,
        limiter=(limiter := AccountLimiter(Tier.PRESTIGE)),
        public_limiter=limiter,
    )
    started = time.monotonic()
    pages = 0
    seen: list[str] = []
    async with client:
        async for page in client.iter_market_pages(limit=1000):
            pages += 1
            assert page.errors == ()
            seen.extend(m.ticker for m in page.items)
    assert len(seen) == len(set(seen))  # no duplicates
    assert set(seen) == expected  # no gaps
    assert pages == -(-len(expected) // 1000)
    assert client.state is ClientState.CLOSED
    assert time.monotonic() - started < 120  # generous sanity cap


async def test_hundreds_of_concurrent_requests_through_one_limiter(
    big_sandbox: RunningSandbox,
) -> None:
    tickers = sorted(big_sandbox.exchange.markets)[:400]
    # 200 requests/s with a burst of 20: the 400 requests must queue in the limiter.
    limiter = AccountLimiter(TierLimits(read=BucketSpec(2000, 200), write=BucketSpec(100, 100)))
    started = time.monotonic()
    clients = [
        KalshiClient(
            big_sandbox.base_url, signer=big_sandbox.signer, limiter=limiter, public_limiter=limiter
        )
        for _ in range(4)
    ]
    for client in clients:
        await client.open()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(clients[i % 4].get_market(t) for i, t in enumerate(tickers))),
            timeout=120,
        )
    finally:
        for client in clients:
            await client.aclose()
    elapsed = time.monotonic() - started
    assert [m.ticker for m in results] == tickers  # every answer matches its request
    assert elapsed >= (400 * 10 - 200) / 2000 * 0.99  # the limiter really paced them
    assert elapsed < 60  # generous sanity cap
    assert limiter.read.acquired_total == 400 * 10
    assert limiter.read.waiting == 0  # nobody left queued
    assert sum(c.stats.requests for c in clients) == 400
    assert sum(c.stats.retries for c in clients) == 0
    assert all(c.state is ClientState.CLOSED for c in clients)
    served = [r for r in big_sandbox.server.log if r.endpoint == "/markets/{ticker}"]
    assert len(served) == 400
    assert all(r.status == 200 for r in served)
