"""Client-side rate limiting for one Kalshi account: async token buckets and tier presets.

Kalshi meters each account with two token buckets (reference A6): a Read bucket (GETs) and a
Write bucket (order place/amend/cancel). Each request costs tokens (default 10). We mirror
those buckets locally so we wait instead of collecting 429s.

Sharing: the exchange meters the ACCOUNT, so every client and poller of one account must
draw from one `AccountLimiter` (two limiters would double the real rate). Get it from a
`LimiterRegistry` keyed by the API key id (`registry.for_account(key_id)`, the process-wide
`default_registry()` unless a registry is injected), or pass one limiter explicitly to every
`KalshiClient(limiter=...)` of that account. A limiter belongs to one asyncio event loop.

Fairness: waiters are served strictly first-come first-served (an asyncio.Lock, which is
FIFO, is held while the head waiter sleeps for its tokens), so a large request is never
starved by a stream of small ones and concurrent callers never overdraw the bucket.
Time comes from an injected `Clock` (monotonic + sleep), so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from precog.utils.clock import Clock, SystemClock

DEFAULT_REQUEST_COST = 10
# Float refill arithmetic can leave a deficit smaller than the clock's resolution; a wait
# for it would never complete on a clock that moves in exact steps.
_TOKEN_EPSILON = 1e-9


@dataclass(frozen=True)
class BucketSpec:
    """Refill rate (tokens/s) and capacity (tokens) of one bucket."""

    refill_rate: float
    capacity: float

    def __post_init__(self) -> None:
        if self.refill_rate <= 0 or self.capacity <= 0:
            raise ValueError("refill_rate and capacity must be positive")


class Tier(StrEnum):
    """Kalshi usage tiers (token-bucket model, live since 2026-04-23)."""

    BASIC = "basic"
    ADVANCED = "advanced"
    EXPERT = "expert"
    PREMIER = "premier"
    PARAGON = "paragon"
    PRIME = "prime"
    PRESTIGE = "prestige"


@dataclass(frozen=True)
class TierLimits:
    read: BucketSpec
    write: BucketSpec


# Reference A6: refill rates per tier; Basic/Advanced read and above-Basic write buckets hold
# 2 s of budget, Basic write and higher-tier read buckets hold 1 s.
TIERS: dict[Tier, TierLimits] = {
    Tier.BASIC: TierLimits(BucketSpec(200, 400), BucketSpec(100, 100)),
    Tier.ADVANCED: TierLimits(BucketSpec(300, 600), BucketSpec(300, 600)),
    Tier.EXPERT: TierLimits(BucketSpec(600, 600), BucketSpec(600, 1200)),
    Tier.PREMIER: TierLimits(BucketSpec(1000, 1000), BucketSpec(1000, 2000)),
    Tier.PARAGON: TierLimits(BucketSpec(2000, 2000), BucketSpec(2000, 4000)),
    Tier.PRIME: TierLimits(BucketSpec(4000, 4000), BucketSpec(4000, 8000)),
    Tier.PRESTIGE: TierLimits(BucketSpec(10000, 10000), BucketSpec(8000, 16000)),
}


class TokenBucket:
    """An async token bucket: `await acquire(cost)` returns once `cost` tokens were taken."""

    def __init__(self, spec: BucketSpec, *, clock: Clock | None = None, name: str = "") -> None:
        self.spec = spec
        self.name = name
        self._clock: Clock = clock or SystemClock()
        self._tokens = spec.capacity
        self._updated = self._clock.monotonic()
        self._lock = asyncio.Lock()  # FIFO: the head waiter sleeps while holding it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0
        self.acquired_total = 0.0

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.spec.capacity, self._tokens + elapsed * self.spec.refill_rate)
        self._updated = now

    async def acquire(self, cost: float = DEFAULT_REQUEST_COST) -> float:
        """Take `cost` tokens, waiting (FIFO) until they are available; returns seconds waited."""
        if cost <= 0:
            return 0.0
        if cost > self.spec.capacity:
            raise ValueError(
                f"a request costing {cost} tokens can never fit a bucket of {self.spec.capacity}"
            )
        loop = asyncio.get_running_loop()
        if loop is not self._loop and self._waiting == 0:
            # A lock binds to one event loop; an idle bucket may move to a new loop
            # (e.g. a second asyncio.run in the same process).
            self._lock = asyncio.Lock()
            self._loop = loop
        self._waiting += 1
        waited = 0.0
        try:
            async with self._lock:
                self._refill()
                while self._tokens < cost - _TOKEN_EPSILON:
                    wait = (cost - self._tokens) / self.spec.refill_rate
                    await self._clock.sleep(wait)
                    waited += wait
                    self._refill()
                self._tokens -= cost
                self.acquired_total += cost
        finally:
            self._waiting -= 1
        return waited

    @property
    def waiting(self) -> int:
        """Callers currently queued or sleeping for tokens."""
        return self._waiting

    def available(self) -> float:
        """Tokens available right now."""
        self._refill()
        return self._tokens

    def utilization(self) -> float:
        """Fraction of the bucket in use right now: 0.0 full/idle, 1.0 empty."""
        return 1.0 - self.available() / self.spec.capacity


class AccountLimiter:
    """The read and write buckets of one Kalshi account."""

    def __init__(
        self,
        tier: Tier | TierLimits = Tier.BASIC,
        *,
        clock: Clock | None = None,
        request_cost: int = DEFAULT_REQUEST_COST,
    ) -> None:
        limits = TIERS[tier] if isinstance(tier, Tier) else tier
        self.limits = limits
        self.request_cost = request_cost
        self.read = TokenBucket(limits.read, clock=clock, name="read")
        self.write = TokenBucket(limits.write, clock=clock, name="write")

    async def acquire_read(self, cost: int | None = None) -> float:
        return await self.read.acquire(self.request_cost if cost is None else cost)

    async def acquire_write(self, cost: int | None = None) -> float:
        return await self.write.acquire(self.request_cost if cost is None else cost)

    def utilization(self) -> dict[str, float]:
        """Per-bucket utilization (0.0 idle .. 1.0 exhausted)."""
        return {"read": self.read.utilization(), "write": self.write.utilization()}


class LimiterRegistry:
    """One `AccountLimiter` per account key id: every client of an account shares it."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock
        self._limiters: dict[str, AccountLimiter] = {}

    def for_account(self, key_id: str, tier: Tier | TierLimits = Tier.BASIC) -> AccountLimiter:
        """The account's limiter, created on first use (later `tier` values are ignored)."""
        limiter = self._limiters.get(key_id)
        if limiter is None:
            limiter = AccountLimiter(tier, clock=self._clock)
            self._limiters[key_id] = limiter
        return limiter

    def __len__(self) -> int:
        return len(self._limiters)


_DEFAULT_REGISTRY = LimiterRegistry()


def default_registry() -> LimiterRegistry:
    """The process-wide registry used when no registry or limiter is injected."""
    return _DEFAULT_REGISTRY


__all__ = [
    "DEFAULT_REQUEST_COST",
    "TIERS",
    "AccountLimiter",
    "BucketSpec",
    "LimiterRegistry",
    "Tier",
    "TierLimits",
    "TokenBucket",
    "default_registry",
]
