"""`PeriodicJob`: one async job every `interval` seconds on the injected clock.

A failed run is logged and counted and the next one runs on schedule; cancellation stops it.
The service's periodic collectors (the account, later game states) and the market data
manager's poll loop are PeriodicJobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from precog.utils.clock import Clock, SystemClock

logger = logging.getLogger(__name__)


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if the current task has been asked to stop.

    A loop that runs until cancelled checks this once per cycle: on Python 3.11
    `asyncio.wait_for` (psycopg_pool waits with it) can swallow a cancellation that arrives
    as the awaited thing completes, and the loop would then run forever. The request itself
    stays visible in `Task.cancelling()`.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`, for counters and log lines."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


@dataclass
class PeriodicJob:
    """`job()` every `interval` seconds (start to start); survives failed runs."""

    name: str
    job: Callable[[], Awaitable[Any]]
    interval: float
    clock: Clock = field(default_factory=SystemClock)
    cycles: int = 0
    failures: int = 0
    last_error: str | None = None

    async def run(self) -> None:
        while True:
            started = self.clock.monotonic()
            try:
                await self.job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failed cycle must not end the collector
                self.failures += 1
                self.last_error = one_line(exc)
                logger.warning("%s failed (runs again next cycle): %s", self.name, one_line(exc))
            self.cycles += 1
            raise_if_cancelled()
            elapsed = self.clock.monotonic() - started
            await self.clock.sleep(max(0.0, self.interval - elapsed))

    def summary(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "failures": self.failures, "last_error": self.last_error}


__all__ = ["PeriodicJob", "one_line", "raise_if_cancelled"]
