"""The collection service behind `precog run`: the market data manager plus collectors
(the account, on a fixed interval, and the game-state poller, on its own live/idle pace).

A `Collector` is anything with a `name`, a `run()` that works until cancelled and survives
its own failed cycles, and a `summary()`. A `PeriodicCollector` runs one async job every
`interval` seconds on the injected clock; a failed cycle is logged and counted and the next
one runs on schedule. `CollectionService` starts the manager and every collector, runs until
`stop` is set or `duration` passes, then stops the sources and flushes the persistence queue
(bounded), and reports a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from precog.schedulers.kalshi_poller import _one_line
from precog.schedulers.market_data_manager import MarketDataManager
from precog.utils.clock import Clock, SystemClock

logger = logging.getLogger(__name__)


class Collector(Protocol):
    name: str

    async def run(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...


@dataclass
class PeriodicCollector:
    """`job()` every `interval` seconds; survives failed cycles."""

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
                self.last_error = _one_line(exc)
                logger.warning("%s collection failed (retried next cycle): %s", self.name, exc)
            self.cycles += 1
            elapsed = self.clock.monotonic() - started
            await self.clock.sleep(max(0.0, self.interval - elapsed))

    def summary(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "failures": self.failures, "last_error": self.last_error}


class CollectionService:
    """The market data manager and the periodic collectors, started and stopped together."""

    def __init__(
        self, manager: MarketDataManager, collectors: list[Collector] | None = None
    ) -> None:
        self.manager = manager
        self.collectors = collectors or []
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        await self.manager.start()
        self._tasks = [
            asyncio.create_task(c.run(), name=f"collector-{c.name}") for c in self.collectors
        ]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.manager.stop()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"markets": self.manager.summary()}
        for collector in self.collectors:
            out[collector.name] = collector.summary()
        return out


__all__ = ["CollectionService", "Collector", "PeriodicCollector"]
