"""Configuration files corrupted, truncated, replaced or deleted under a running loader.

Every reload either succeeds with a valid configuration or raises ConfigError and keeps the
previous one; the loader never holds an invalid snapshot and recovers as soon as the file
is good again.
"""

from __future__ import annotations

import os
import random
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from precog.config.config_loader import ConfigLoader
from precog.config.schemas import Settings
from precog.errors import ConfigError
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("config_loader")

JOIN_TIMEOUT = 60.0


def valid(seconds: int) -> bytes:
    return (
        f"kalshi:\n  poll_interval_seconds: {seconds}\n  stale_after_seconds: {2 * seconds}\n"
    ).encode()


def remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def put(path: Path, content: bytes) -> None:
    remove(path)
    path.write_bytes(content)


def make_directory(path: Path) -> None:
    remove(path)
    path.mkdir()


def check_snapshot(settings: Settings) -> None:
    """A snapshot is valid: it re-validates unchanged and its related fields agree."""
    assert Settings.model_validate(settings.model_dump()) == settings
    kalshi = settings.data_sources.kalshi
    assert kalshi.stale_after_seconds == 2 * kalshi.poll_interval_seconds


# fault -> poll interval after the reload (None: the reload must fail and keep the old one)
FAULTS: list[tuple[str, Callable[[Path], None], float | None]] = [
    ("valid", lambda p: put(p, valid(7)), 7.0),
    ("truncated mid-key", lambda p: put(p, valid(8)[:40]), None),
    ("truncated mid-value", lambda p: put(p, valid(9)[:32]), None),
    ("binary garbage", lambda p: put(p, bytes(range(128, 256)) * 4), None),
    ("NUL bytes", lambda p: put(p, b"kalshi:\n  mode: \x00\x00\n"), None),
    ("wrong type", lambda p: put(p, b"kalshi:\n  poll_interval_seconds: soon\n"), None),
    ("not a mapping", lambda p: put(p, b"[1, 2, 3]\n"), None),
    ("replaced by a directory", make_directory, None),
    ("recovered", lambda p: put(p, valid(11)), 11.0),
    ("deleted", remove, 15.0),  # back to the packaged default, with its stale_after 30
    ("empty", lambda p: put(p, b""), 15.0),
    ("dangling symlink", lambda p: (remove(p), p.symlink_to(p.with_name("gone.yaml"))), 15.0),
]


def test_each_fault_fails_cleanly_or_loads_what_is_on_disk(tmp_path: Path) -> None:
    target = tmp_path / "data_sources.yaml"
    put(target, valid(5))
    loader = ConfigLoader(tmp_path, environ={})
    for name, inject, expected in FAULTS:
        inject(target)
        before = loader.settings
        if expected is None:
            with pytest.raises(ConfigError, match=str(target)):
                loader.reload()
            assert loader.settings is before, name
        else:
            assert loader.reload().data_sources.kalshi.poll_interval_seconds == expected, name
        check_snapshot(loader.settings)


def test_files_corrupted_and_deleted_during_concurrent_reloads(tmp_path: Path) -> None:
    target = tmp_path / "data_sources.yaml"
    put(target, valid(5))
    loader = ConfigLoader(tmp_path, environ={})
    stop = threading.Event()
    failures: list[BaseException] = []
    outcomes = {"ok": 0, "refused": 0, "checked": 0}

    def reloads() -> int:
        return outcomes["ok"] + outcomes["refused"]

    def vandal() -> None:
        chooser = random.Random(20260101)  # seeded: the same fault sequence every run
        for _ in range(150):
            if stop.is_set():
                return
            _, inject, _ = chooser.choice(FAULTS)
            inject(target)
            # let at least one reload start and finish on this state (bounded: fails on timeout)
            done = reloads()
            eventually(lambda done=done: reloads() > done + 1, timeout=10, interval=0.001)
            if chooser.random() < 0.3:  # a slow, non-atomic rewrite seen half-done
                remove(target)
                with target.open("wb") as handle:
                    handle.write(valid(6)[:20])
                    handle.flush()
                    os.fsync(handle.fileno())
                    handle.write(valid(6)[20:])

    def reloader() -> None:
        while not stop.is_set():
            before = loader.settings
            try:
                settings = loader.reload()
            except ConfigError:
                assert loader.settings is before  # the only reloader: nothing else swaps
                outcomes["refused"] += 1
            else:
                check_snapshot(settings)
                outcomes["ok"] += 1

    def reader() -> None:
        while not stop.is_set():
            check_snapshot(loader.settings)
            outcomes["checked"] += 1

    def guarded(target_fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target_fn()
            except BaseException as exc:  # any other exception type is a failure
                failures.append(exc)
                stop.set()

        return run

    workers = [threading.Thread(target=guarded(fn)) for fn in (reloader, reader)]
    vandal_thread = threading.Thread(target=guarded(vandal))
    for thread in [*workers, vandal_thread]:
        thread.start()
    vandal_thread.join(timeout=JOIN_TIMEOUT)
    vandal_finished = not vandal_thread.is_alive()
    stop.set()
    for thread in workers:
        thread.join(timeout=JOIN_TIMEOUT)
    assert vandal_finished, "fault injector did not finish in time"
    assert not [thread for thread in workers if thread.is_alive()], "workers did not stop"
    assert not failures, repr(failures[0])
    assert outcomes["ok"] > 0
    assert outcomes["refused"] > 0
    assert outcomes["checked"] > 0

    put(target, valid(12))  # recovery: a good file is picked up by the next reload
    assert loader.reload().data_sources.kalshi.poll_interval_seconds == 12.0
    check_snapshot(loader.settings)
