"""PeriodicJob, the loop of the service's periodic collectors and the manager's poll loop:
it survives failed runs and stops when cancelled, even when a run swallowed the
cancellation (Python 3.11's asyncio.wait_for can, and psycopg_pool waits with it)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from precog.schedulers.periodic import PeriodicJob
from precog.utils.clock import FakeClock
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("market_data_manager")


async def test_a_failed_run_is_counted_and_the_next_one_runs_on_schedule() -> None:
    clock = FakeClock()
    starts: list[float] = []

    async def job() -> None:
        starts.append(clock.monotonic())
        if len(starts) == 2:
            raise RuntimeError("venue down\nsecond line")
        if len(starts) == 4:
            await asyncio.Event().wait()  # park: the test cancels here

    periodic = PeriodicJob("account", job, interval=30.0, clock=clock)
    task = asyncio.create_task(periodic.run())
    await eventually_async(lambda: len(starts) == 4, timeout=5, what="four runs")
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done
    assert task.cancelled()
    assert starts == [1000.0, 1030.0, 1060.0, 1090.0]
    assert periodic.summary() == {
        "cycles": 3, "failures": 1, "last_error": "RuntimeError: venue down"
    }  # fmt: skip


async def test_a_cancellation_swallowed_inside_a_run_still_stops_the_loop() -> None:
    started = asyncio.Event()

    async def swallowing_job() -> None:
        started.set()
        # what wait_for on Python 3.11 can do when its inner wait has just finished
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()

    periodic = PeriodicJob("swallower", swallowing_job, interval=1.0, clock=FakeClock())
    task = asyncio.create_task(periodic.run())
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, "the loop ran on after it was cancelled"
    assert task.cancelled()
    assert periodic.cycles == 1
