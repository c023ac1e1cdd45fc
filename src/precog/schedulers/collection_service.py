"""The collection service behind `precog run`: the market data manager plus collectors
(the account, on a fixed interval, and the game-state poller, on its own live/idle pace).

A `Collector` is anything with a `name`, a `run()` that works until cancelled and survives
its own failed cycles, and a `summary()`: a `PeriodicJob` (`schedulers/periodic.py`, one
async job every interval on the injected clock) or the game-state poller on its own
live/idle pace. `CollectionService` starts the manager and every collector, runs until
`stop` is set or `duration` passes, then stops the sources and flushes the persistence queue
(bounded), and reports a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from precog.schedulers.market_data_manager import MarketDataManager

logger = logging.getLogger(__name__)


class Collector(Protocol):
    name: str

    async def run(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...


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


__all__ = ["CollectionService", "Collector"]
