"""Thousands of reloads and tens of thousands of reads: every result is right, old snapshots
are released, and memory does not grow."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref
from decimal import Decimal
from pathlib import Path

import pytest

from precog.config.config_loader import ConfigLoader
from precog.config.schemas import Settings

pytestmark = pytest.mark.module("config_loader")

RELOADS = 600
JOIN_TIMEOUT = 120.0


def write_edge(directory: Path, cents: int) -> None:
    (directory / "trading.yaml").write_text(f"min_edge: 0.{cents:02d}\n", encoding="utf-8")


def test_thousands_of_reloads_release_old_snapshots_and_memory(tmp_path: Path) -> None:
    write_edge(tmp_path, 1)
    loader = ConfigLoader(tmp_path, environ={})
    samples: list[weakref.ref[Settings]] = []
    tracemalloc.start()
    try:
        # Warm the lazily filled caches (pydantic, io, yaml, pathlib) while traced, with the
        # same mix of file writes and reloads as the measured loop: what they allocate once
        # must not be mistaken for a leak in a window of only a few hundred reloads.
        for i in range(300):
            if i % 10 == 0:
                write_edge(tmp_path, 99 - i % 99)
            loader.reload()
        gc.collect()
        objects_before = len(gc.get_objects())
        before = tracemalloc.take_snapshot()
        for i in range(RELOADS):
            if i % 10 == 0:
                write_edge(tmp_path, i % 99 + 1)
            settings = loader.reload()
            assert settings.trading.min_edge == Decimal(f"0.{i // 10 * 10 % 99 + 1:02d}")
            if i % 100 == 0:
                samples.append(weakref.ref(settings))
        del settings
        gc.collect()
        growth = tracemalloc.take_snapshot().compare_to(before, "filename")
        blocks = sum(stat.count_diff for stat in growth)
        top = [str(stat) for stat in growth[:5]]
        del before, growth
        gc.collect()
        objects_after = len(gc.get_objects())
    finally:
        tracemalloc.stop()

    assert [ref() for ref in samples if ref() is not None] == [], "old snapshots still alive"
    # One leaked object per reload would add >= RELOADS blocks; allow incidental growth
    # (the sample list, cache slots, the test framework's own bookkeeping).
    assert blocks < RELOADS // 3, top
    assert objects_after - objects_before < RELOADS // 3, (objects_before, objects_after)


def test_concurrent_reads_during_continuous_reloads(tmp_path: Path) -> None:
    write_edge(tmp_path, 5)
    loader = ConfigLoader(tmp_path, environ={})
    reads_per_thread = 20_000
    valid_edges = {Decimal("0.05"), Decimal("0.06")}
    failures: list[BaseException] = []
    done = [0] * 4

    def read(index: int) -> None:
        try:
            for _ in range(reads_per_thread):
                assert loader.get("trading.min_edge") in valid_edges
                assert loader.get("data_sources.kalshi.poll_interval_seconds") == 15.0
                assert loader.settings.system.database.pool_max_size == 10
                done[index] += 1
        except BaseException as exc:  # reported to the test thread
            failures.append(exc)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(done))]
    for thread in readers:
        thread.start()
    reloads = 0
    while any(thread.is_alive() for thread in readers) and reloads < 5000:
        write_edge(tmp_path, 5 + reloads % 2)
        assert loader.reload().trading.min_edge == Decimal(f"0.0{5 + reloads % 2}")
        reloads += 1
    for thread in readers:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not [thread for thread in readers if thread.is_alive()], "readers did not finish"
    assert not failures, failures[0]
    assert done == [reads_per_thread] * len(done)
    assert reloads > 0
