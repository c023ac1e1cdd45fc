"""Rate limiter units at the edges: spec validation, custom tiers, explicit costs, the
registry's clock and tier, zero-cost requests, the waiting count and a bucket reused by a
second event loop under contention. Written to kill the mutants `make mutation
MODULE=rate_limiter` found surviving (names in the commit that added this file)."""

from __future__ import annotations

import asyncio

import pytest

from precog.api_connectors.rate_limiter import (
    TIERS,
    AccountLimiter,
    BucketSpec,
    LimiterRegistry,
    Tier,
    TierLimits,
    TokenBucket,
)
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("kalshi_client")


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (1, 0), (-1, 5), (5, -1), (0, 0)])
def test_a_bucket_needs_a_positive_rate_and_capacity(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 - the exact message is checked below
        BucketSpec(refill_rate=rate, capacity=capacity)
    assert str(info.value) == "refill_rate and capacity must be positive"


def test_the_smallest_positive_bucket_is_valid() -> None:
    assert BucketSpec(refill_rate=0.5, capacity=1).capacity == 1


def test_buckets_are_named_after_their_use() -> None:
    limiter = AccountLimiter(clock=FakeClock())
    assert (limiter.read.name, limiter.write.name) == ("read", "write")
    assert TokenBucket(BucketSpec(1, 1), clock=FakeClock()).name == ""


async def test_custom_tier_limits_and_explicit_costs() -> None:
    limits = TierLimits(read=BucketSpec(5, 50), write=BucketSpec(1, 20))
    limiter = AccountLimiter(limits, clock=FakeClock())
    assert limiter.limits is limits
    assert await limiter.acquire_write(cost=15) == 0.0
    assert await limiter.acquire_read(cost=30) == 0.0
    assert limiter.write.available() == 5  # the clock is frozen: no refill
    assert limiter.read.available() == 20


async def test_registry_limiters_use_its_clock_and_first_tier() -> None:
    clock = FakeClock()
    registry = LimiterRegistry(clock=clock)
    prime = registry.for_account("p", Tier.PRIME)
    assert prime.limits is TIERS[Tier.PRIME]
    basic = registry.for_account("b")
    await basic.acquire_read(400)  # Basic read bucket: 400 tokens, 200/s
    assert await basic.acquire_read(200) == 1.0
    assert clock.sleeps == [1.0]  # slept on the registry's fake clock, not the real one


async def test_zero_cost_returns_at_once_even_behind_a_waiter() -> None:
    clock = FakeClock()
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=clock)
    await bucket.acquire(10)
    order: list[str] = []

    async def take(name: str, cost: float) -> None:
        waited = await bucket.acquire(cost)
        order.append(f"{name}:{waited}")

    await asyncio.gather(take("big", 10), take("free", 0))
    assert order == ["free:0.0", "big:1.0"]  # the free one never queued behind the lock


async def test_waiting_counts_every_queued_caller() -> None:
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=FakeClock())
    await bucket.acquire(10)
    tasks = [asyncio.create_task(bucket.acquire(10)) for _ in range(3)]
    await asyncio.sleep(0)  # each task runs to its first wait: one sleeps, two queue
    assert bucket.waiting == 3
    await asyncio.gather(*tasks)
    assert bucket.waiting == 0


def test_an_idle_bucket_moves_to_a_new_event_loop_under_contention() -> None:
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=FakeClock())

    async def contend() -> list[float]:
        await bucket.acquire(10)
        return list(await asyncio.gather(bucket.acquire(5), bucket.acquire(5)))

    # Each asyncio.run is a new loop; the second would fail on a lock bound to the first.
    assert asyncio.run(contend()) == [0.5, 0.5]
    assert asyncio.run(contend()) == [0.5, 0.5]


class EarlyWakingClock(FakeClock):
    """A clock whose sleeps end after half the time asked for, as a coarse timer may wake a
    sleeper early: the bucket must sleep again and report every second it slept."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds) / 2)
        await asyncio.sleep(0)


async def test_a_sleep_that_ends_early_is_followed_by_another_and_all_are_counted() -> None:
    clock = EarlyWakingClock()
    bucket = TokenBucket(BucketSpec(refill_rate=10, capacity=10), clock=clock)
    assert await bucket.acquire(10) == 0.0
    waited = await bucket.acquire(8)
    assert len(clock.sleeps) > 1  # woke early, slept again
    assert waited == pytest.approx(sum(clock.sleeps))
    assert waited > 0.8  # what was asked for in all (0.8 s, 0.4 s, ...), not the last sleep
    assert bucket.available() == pytest.approx(0.0, abs=1e-6)
