"""rate_limiter (part of kalshi_client) and the client's retry/backoff, on a fake clock."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from precog.api_connectors.errors import ServerError
from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import (
    TIERS,
    AccountLimiter,
    BucketSpec,
    LimiterRegistry,
    Tier,
    TokenBucket,
)
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy

pytestmark = pytest.mark.module("kalshi_client")


async def test_basic_tier_is_20_reads_and_10_writes_per_second() -> None:
    clock = FakeClock()
    limiter = AccountLimiter(clock=clock)  # Basic is the default tier
    assert limiter.limits == TIERS[Tier.BASIC]
    start = clock.monotonic()
    for _ in range(40 + 20):  # a 2 s burst, then one second at the refill rate
        await limiter.acquire_read()
    assert clock.monotonic() - start == pytest.approx(1.0)
    start = clock.monotonic()
    for _ in range(10 + 10):  # a 1 s write bucket, then one second at 10 writes/s
        await limiter.acquire_write()
    assert clock.monotonic() - start == pytest.approx(1.0)
    assert TIERS[Tier.PRESTIGE].write.refill_rate == 8000


async def test_reads_and_writes_draw_from_their_own_buckets() -> None:
    limiter = AccountLimiter(Tier.BASIC, clock=FakeClock())
    await limiter.acquire_write()
    assert limiter.write.available() == 90
    assert limiter.read.available() == 400
    await limiter.acquire_read(30)
    assert limiter.read.available() == 370
    assert limiter.write.available() == 90


async def test_burst_is_free_then_waits_exactly_for_refill() -> None:
    clock = FakeClock()
    bucket = TokenBucket(BucketSpec(refill_rate=100, capacity=100), clock=clock)
    for _ in range(10):
        assert await bucket.acquire(10) == 0.0
    start = clock.monotonic()
    waited = await bucket.acquire(10)
    assert waited == pytest.approx(0.1)
    assert clock.monotonic() - start == pytest.approx(0.1)


async def test_utilization_reports_used_fraction() -> None:
    clock = FakeClock()
    limiter = AccountLimiter(Tier.BASIC, clock=clock)
    assert limiter.utilization() == {"read": 0.0, "write": 0.0}
    for _ in range(20):
        await limiter.acquire_read()
    assert limiter.utilization()["read"] == pytest.approx(0.5)
    clock.advance(1.0)  # refills 200 tokens
    assert limiter.utilization()["read"] == pytest.approx(0.0)


async def test_waiters_are_served_first_come_first_served() -> None:
    clock = FakeClock()
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=clock)
    await bucket.acquire(10)  # empty it
    order: list[int] = []

    async def take(index: int, cost: int) -> None:
        await bucket.acquire(cost)
        order.append(index)

    # a big request queued first is not starved by small ones queued after it
    await asyncio.gather(take(0, 10), take(1, 1), take(2, 1), take(3, 1))
    assert order == [0, 1, 2, 3]


async def test_cost_larger_than_capacity_is_refused() -> None:
    bucket = TokenBucket(BucketSpec(refill_rate=1, capacity=5), clock=FakeClock())
    with pytest.raises(ValueError, match="never fit"):
        await bucket.acquire(6)


def test_registry_gives_one_limiter_per_account() -> None:
    registry = LimiterRegistry(clock=FakeClock())
    assert registry.for_account("a") is registry.for_account("a", Tier.PRIME)
    assert registry.for_account("a") is not registry.for_account("b")


def backoff_client(
    responses: list[httpx.Response], policy: RetryPolicy
) -> tuple[KalshiClient, FakeClock]:
    clock = FakeClock()
    replies = iter(responses)
    client = KalshiClient(
        "http://x.test/trade-api/v2",
        limiter=(limiter := AccountLimiter(Tier.PRESTIGE, clock=clock)),
        public_limiter=limiter,
        retry_policy=policy,
        clock=clock,
        transport=httpx.MockTransport(lambda _r: next(replies)),
    )
    return client, clock


async def test_client_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(max_retries=7, base_delay=1.0, max_delay=8.0, rng=random.Random(7))
    client, clock = backoff_client([httpx.Response(503)] * 8, policy)
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.get_exchange_status()
    assert caught.value.attempts == 8
    assert len(clock.sleeps) == 7
    for n, delay in enumerate(clock.sleeps):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(clock.sleeps)) == 7  # jittered, not lockstep


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        ("30", 30.0, 30.0),  # honoured
        ("999", 60.0, 60.0),  # capped by max_retry_after
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.5, 1.0),  # unusable: plain backoff
        ("-1", 0.5, 1.0),
        ("nan", 0.5, 1.0),
    ],
)
async def test_client_honours_retry_after(header: str, low: float, high: float) -> None:
    policy = RetryPolicy(max_retries=1, base_delay=1.0, rng=random.Random(1))
    client, clock = backoff_client(
        [httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, json={
            "exchange_active": True, "trading_active": True})],
        policy,
    )  # fmt: skip
    async with client:
        await client.get_exchange_status()
    assert len(clock.sleeps) == 1
    assert low <= clock.sleeps[0] <= high


class ParkingClock(FakeClock):
    """A fake clock whose sleeps can be parked (they wait until released or cancelled)."""

    def __init__(self) -> None:
        super().__init__()
        self.park = False
        self.released = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if self.park:
            self.sleeps.append(seconds)
            await self.released.wait()
            return
        await super().sleep(seconds)


async def test_a_cancelled_waiter_takes_no_tokens_and_blocks_nobody() -> None:
    clock = ParkingClock()
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=clock)
    await bucket.acquire(10)
    clock.park = True
    head = asyncio.create_task(bucket.acquire(10))
    await asyncio.sleep(0)
    assert bucket.waiting == 1
    head.cancel()
    with pytest.raises(asyncio.CancelledError):
        await head
    assert bucket.waiting == 0
    clock.park = False
    clock.advance(1.0)
    assert await bucket.acquire(10) == 0.0  # the cancelled request consumed nothing
    assert bucket.acquired_total == 20


async def test_unsigned_public_gets_do_not_draw_from_the_account_bucket() -> None:
    """Reference A6 meters authenticated requests only: on Basic, paging public markets must
    not halve the account's read budget for balance/positions/fills."""

    class Signer:
        key_id = "acct"

        def headers(self, method: str, path: str) -> dict[str, str]:
            return {"KALSHI-ACCESS-KEY": self.key_id}

    clock = FakeClock()
    registry = LimiterRegistry(clock=clock)
    client = KalshiClient(
        "http://x.test/trade-api/v2",
        signer=Signer(),
        registry=registry,
        tier=Tier.BASIC,
        clock=clock,
        transport=httpx.MockTransport(
            lambda r: httpx.Response(
                200, json={"markets": [], "cursor": ""} if "markets" in r.url.path else {}
            )
        ),
    )
    assert client.public_limiter is not client.limiter
    async with client:
        for _ in range(5):
            await client.get_markets()
        assert client.limiter.read.acquired_total == 0
        assert client.public_limiter.read.acquired_total == 50
        await client.request_json("GET", "/portfolio/balance")
    assert client.limiter.read.acquired_total == 10  # signed: the account pays
    assert client.public_limiter.read.acquired_total == 50
    assert registry.for_account("acct") is client.limiter
