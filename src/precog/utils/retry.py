"""THE retry/backoff policy of the project: capped, jittered exponential backoff.

One implementation for every retrying caller (Kalshi REST, ESPN, reconnect loops): the
caller says which exceptions are retryable and, optionally, how long the server asked us
to wait (`Retry-After`); this module decides how long to wait and how many times to try.

Delay for retry n (n = 0 for the first retry), "equal jitter":

    ceiling = min(max_delay, base_delay * multiplier ** n)
    delay   = ceiling / 2 + uniform(0, ceiling / 2)

so delays grow exponentially, never exceed `max_delay`, and concurrent clients do not retry
in lockstep. A server-sent Retry-After is honoured (waited at least, capped by
`max_retry_after` so a hostile value cannot park us for hours). Randomness and sleeping are
injected (`rng`, `sleep`) so tests are deterministic and instant.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

SleepFn = Callable[[float], Awaitable[None]]
RetryCallback = Callable[[int, BaseException, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait in between (seconds)."""

    max_retries: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    multiplier: float = 2.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier**retry_index)
        backoff = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None and retry_after > 0:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda _exc: None,
    sleep: SleepFn = _asyncio_sleep,
    on_retry: RetryCallback | None = None,
) -> T:
    """Run `operation`, retrying retryable failures up to `policy.max_retries` times.

    The last failure is re-raised unchanged when the retries are used up, so the caller sees
    the typed error of the final attempt. Non-retryable failures propagate at once.
    """
    retry_index = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not is_retryable(exc) or retry_index >= policy.max_retries:
                raise
            wait = policy.delay(retry_index, retry_after(exc))
            if on_retry is not None:
                on_retry(retry_index + 1, exc, wait)
            retry_index += 1
            await sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form); None if absent or unusable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # the HTTP-date form is not used by the venues we talk to
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


__all__ = ["RetryPolicy", "parse_retry_after", "retry_async"]
