"""rate_limiter (part of kalshi_client) and the retry policy it works with, on a fake clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from precog.api_connectors.rate_limiter import (
    TIERS,
    AccountLimiter,
    BucketSpec,
    LimiterRegistry,
    Tier,
    TokenBucket,
)
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy, parse_retry_after, retry_async

pytestmark = pytest.mark.module("kalshi_client")


def test_basic_tier_is_20_reads_and_10_writes_per_second() -> None:
    basic = TIERS[Tier.BASIC]
    assert basic.read.refill_rate / 10 == 20
    assert basic.write.refill_rate / 10 == 10
    assert basic.read.capacity == 400  # 2 s of budget
    assert TIERS[Tier.PRESTIGE].write.refill_rate == 8000


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


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(7))
    delays = [policy.delay(n) for n in range(8)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0
    assert policy.delay(0, retry_after=30.0) == 30.0
    assert policy.delay(0, retry_after=999.0) == 60.0  # capped by max_retry_after


def test_retry_after_header_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after("nan") is None


async def test_retry_async_counts_and_reraises_last_error() -> None:
    clock = FakeClock()
    attempts = 0

    async def always_fails() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError(f"attempt {attempts}")

    with pytest.raises(ConnectionError, match="attempt 4"):
        await retry_async(
            always_fails,
            policy=RetryPolicy(max_retries=3, rng=random.Random(0)),
            is_retryable=lambda exc: isinstance(exc, ConnectionError),
            sleep=clock.sleep,
        )
    assert attempts == 4
    assert len(clock.sleeps) == 3


async def test_retry_async_does_not_retry_non_retryable() -> None:
    attempts = 0

    async def bad() -> None:
        nonlocal attempts
        attempts += 1
        raise KeyError("x")

    with pytest.raises(KeyError):
        await retry_async(bad, policy=RetryPolicy(), is_retryable=lambda _e: False)
    assert attempts == 1
