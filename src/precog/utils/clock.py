"""Injectable time: the `Clock` protocol, the real `SystemClock`, and a `FakeClock` for tests.

Everything that waits or measures intervals takes a Clock, so tests control time instead of
sleeping. `monotonic()` is for intervals (never goes backwards), `now()` is wall-clock UTC
(aware), `sleep()` is the only way code waits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Time source: monotonic seconds, aware UTC wall time, and an async sleep."""

    def monotonic(self) -> float: ...

    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to, or when someone sleeps on it.

    `sleep(d)` moves time forward by `d` and then yields to the event loop once, so code
    that sleeps runs instantly while measuring exactly the time it asked for (sleeps add up,
    as they would for one task sleeping after another). `advance(d)` moves time by hand.
    `sleeps` records every requested sleep.
    """

    def __init__(self, start: float = 1000.0, wall: dt.datetime | None = None) -> None:
        self._now = start
        self._start = start
        self._wall = wall or dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def now(self) -> dt.datetime:
        return self._wall + dt.timedelta(seconds=self._now - self._start)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self._now += seconds
        await asyncio.sleep(0)


__all__ = ["Clock", "FakeClock", "SystemClock"]
