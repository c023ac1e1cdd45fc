"""kalshi_client under concurrent interleavings: many tasks and two clients of one account
share one limiter, and the request rate it lets through never exceeds the bucket's budget
(measured exactly on a fake clock, and on the real clock at the sandbox's door)."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import BucketSpec, LimiterRegistry, TierLimits
from precog.utils.clock import FakeClock
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_client")

COST = 10


def assert_within_budget(times: list[float], *, rate: float, capacity: float, slack: int) -> None:
    """For every window [t_i, t_j]: requests * COST <= capacity + rate * (t_j - t_i)."""
    times = sorted(times)
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            allowed = (capacity + rate * (times[j] - start)) / COST + slack
            assert j - i + 1 <= allowed + 1e-9, (
                f"{j - i + 1} requests in {times[j] - start:.4f}s exceed the budget {allowed:.2f}"
            )


class FakeSigner:
    key_id = "shared-account"

    def headers(self, method: str, path: str) -> dict[str, str]:
        return {"KALSHI-ACCESS-KEY": self.key_id}


async def test_two_clients_of_one_account_never_exceed_the_rate_fake_clock() -> None:
    clock = FakeClock()
    limits = TierLimits(read=BucketSpec(200, 400), write=BucketSpec(100, 100))
    registry = LimiterRegistry(clock=clock)
    sent_at: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.monotonic())
        await asyncio.sleep(0)  # let other tasks interleave mid-request
        return httpx.Response(200, json={"balance": 1})

    transport = httpx.MockTransport(handler)
    clients = [
        KalshiClient(
            "http://x.test/trade-api/v2",
            signer=FakeSigner(),
            registry=registry,
            tier=limits,
            clock=clock,
            transport=transport,
        )
        for _ in range(2)
    ]
    assert clients[0].limiter is clients[1].limiter
    for client in clients:
        await client.open()
    rng = random.Random(3)

    async def worker(index: int) -> None:
        client = clients[index % 2]
        for _ in range(10):
            if rng.random() < 0.3:
                await clock.sleep(rng.random() * 0.05)  # bursts and lulls
            await client.get_balance()

    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(30))), timeout=60)
    for client in clients:
        await client.aclose()
    assert len(sent_at) == 300
    assert_within_budget(sent_at, rate=200, capacity=400, slack=0)
    # The budget was actually the constraint: 300 requests need >= (3000-400)/200 s.
    assert max(sent_at) - min(sent_at) >= (300 * COST - 400) / 200 - 1e-6


async def test_concurrent_tasks_through_one_limiter_real_clock_at_the_sandbox(
    sandbox: RunningSandbox,
) -> None:
    rate, capacity = 200.0, 40.0  # 20 requests/s, burst of 4
    registry = LimiterRegistry()
    limits = TierLimits(read=BucketSpec(rate, capacity), write=BucketSpec(100, 100))
    clients = [
        KalshiClient(sandbox.base_url, signer=sandbox.signer, registry=registry, tier=limits)
        for _ in range(3)
    ]
    assert len({id(c.limiter) for c in clients}) == 1
    for client in clients:
        await client.open()
    begin = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(clients[i % 3].get_balance() for i in range(40))), timeout=60
        )
    finally:
        for client in clients:
            await client.aclose()
    arrivals = [
        r.monotonic
        for r in sandbox.server.log
        if r.endpoint == "/portfolio/balance" and r.monotonic >= begin
    ]
    assert len(arrivals) == 40
    # No request reaches the exchange before the bucket (full at `begin`) had its tokens:
    # the k-th arrival comes at least (k * COST - capacity) / rate after the start. A busy
    # machine can only delay arrivals, never advance them, so this holds under any load.
    # (Every window, not only those starting at `begin`, is checked exactly on the fake
    # clock above; on the real clock, transit delays may bunch arrivals after the start.)
    for k, arrived in enumerate(sorted(arrivals), start=1):
        earliest = (k * COST - capacity) / rate
        assert arrived - begin >= earliest - 0.002, (k, arrived - begin, earliest)
    # ...so 40 requests at 20/s after a burst of 4 take at least 1.8 s.
    assert max(arrivals) - begin >= (40 * COST - capacity) / rate - 0.002
