"""Reload under concurrent reads: readers never see a half-built configuration.

A writer thread publishes numbered versions of two files (each written atomically) and
reloads; two more threads reload continuously; reader threads check, on every snapshot
they take, invariants that tie several fields of one file together, and that the version
they see never goes backwards.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from precog.config.config_loader import ConfigLoader
from precog.config.schemas import Settings

pytestmark = pytest.mark.module("config_loader")

VERSIONS = 150
READERS = 4
RELOADERS = 2
JOIN_TIMEOUT = 60.0


def publish(directory: Path, version: int) -> None:
    """Write version N of both files, each with an atomic rename."""
    files = {
        "data_sources.yaml": (
            "kalshi:\n"
            f"  poll_interval_seconds: {version}\n"
            f"  stale_after_seconds: {2 * version}\n"
            f"  series: [V{version}]\n"
        ),
        "trading.yaml": (
            f"max_position_dollars: {version}.25\n"
            f"max_total_exposure_dollars: {10 * version}.50\n"
            f"min_edge: 0.{version:04d}\n"
        ),
    }
    for name, text in files.items():
        temporary = directory / f".{name}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, directory / name)


def versions(settings: Settings) -> tuple[int, int]:
    """Check one snapshot's invariants; return its (data_sources, trading) versions."""
    kalshi = settings.data_sources.kalshi
    data_version = int(kalshi.poll_interval_seconds)
    assert kalshi.poll_interval_seconds == data_version
    assert kalshi.stale_after_seconds == 2 * data_version
    assert kalshi.series == (f"V{data_version}",)
    trading = settings.trading
    trading_version = int(trading.max_position_dollars)
    assert trading.max_position_dollars == Decimal(f"{trading_version}.25")
    assert trading.max_total_exposure_dollars == Decimal(f"{10 * trading_version}.50")
    assert trading.min_edge == Decimal(f"0.{trading_version:04d}")
    return data_version, trading_version


@pytest.fixture
def fast_thread_switching() -> Iterator[None]:
    """Hand the GIL over every 10 us instead of every 5 ms.

    More interleavings per second for the race to show itself, and a thread returning from
    file I/O no longer waits a whole switch interval per read behind the spinning readers.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.usefixtures("fast_thread_switching")
def test_reload_under_concurrent_reads(tmp_path: Path) -> None:
    publish(tmp_path, 1)
    loader = ConfigLoader(tmp_path, environ={})
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = [0] * READERS
    reloads = [0] * RELOADERS

    def guarded(target: Callable[..., None], *args: int) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported to the test thread
            failures.append(exc)
            stop.set()

    def reader(index: int) -> None:
        last = (0, 0)
        while not stop.is_set():
            seen = versions(loader.settings)
            assert seen[0] >= last[0], f"went back: {last} -> {seen}"
            assert seen[1] >= last[1], f"went back: {last} -> {seen}"
            last = seen
            reads[index] += 1

    def reloader(index: int) -> None:
        while not stop.is_set():
            versions(loader.reload())
            reloads[index] += 1

    def writer() -> None:
        for version in range(2, VERSIONS + 1):
            publish(tmp_path, version)
            assert versions(loader.reload()) == (version, version)

    threads = [
        threading.Thread(target=guarded, args=(reader, i), name=f"reader-{i}")
        for i in range(READERS)
    ] + [
        threading.Thread(target=guarded, args=(reloader, i), name=f"reloader-{i}")
        for i in range(RELOADERS)
    ]
    for thread in threads:
        thread.start()
    writer_thread = threading.Thread(target=guarded, args=(writer,), name="writer")
    writer_thread.start()
    writer_thread.join(timeout=JOIN_TIMEOUT)
    writer_alive = writer_thread.is_alive()
    stop.set()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not writer_alive, "writer did not finish in time"
    assert not [t.name for t in threads if t.is_alive()], "threads did not stop in time"
    assert not failures, failures[0]

    assert versions(loader.settings) == (VERSIONS, VERSIONS)
    assert all(count > 0 for count in reads), reads
    assert all(count > 0 for count in reloads), reloads
