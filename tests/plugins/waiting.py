"""Bounded waiting: `eventually` polls a condition until it holds or a deadline FAILS the test.

Tests never sleep-and-hope: they wait for an observable condition, and a condition that is
not met within the timeout is a failure with a message, never a silent pass or a skip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """The awaited condition did not become true in time (fails the test)."""


def eventually(
    condition: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.01, what: str = ""
) -> T:
    """Call `condition` until it returns a truthy value; return that value or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"condition not met within {timeout}s: {what or condition!r}")
        time.sleep(interval)


async def eventually_async(
    condition: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    what: str = "",
) -> T:
    """Async twin of `eventually`; `condition` may be sync or return an awaitable."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"condition not met within {timeout}s: {what or condition!r}")
        await asyncio.sleep(interval)
