"""The collection service behind `precog run`: the market data manager plus periodic
collectors (the account today; the game-state poller joins through the same door).

Each periodic collector is a `PeriodicJob` (`schedulers/periodic.py`). `CollectionService`
starts the manager and every collector, runs until `stop` is set or `duration` passes, then
stops the sources and flushes the persistence queue (bounded), and reports a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from precog.schedulers.market_data_manager import MarketDataManager
from precog.schedulers.periodic import PeriodicJob

logger = logging.getLogger(__name__)


class CollectionService:
    """The market data manager and the periodic collectors, started and stopped together."""

    def __init__(
        self, manager: MarketDataManager, collectors: list[PeriodicJob] | None = None
    ) -> None:
        self.manager = manager
        self.collectors = collectors or []  # extra collectors (e.g. game states) go here
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


__all__ = ["CollectionService"]
