"""Many threads logging thousands of lines a second through constant rotation: nothing is
lost, duplicated or interleaved, and no file handle leaks."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from precog.utils.logger import configure_logging, get_logger
from tests.plugins.logging_state import log_files, open_descriptor_count, read_json_lines

pytestmark = [pytest.mark.module("logger"), pytest.mark.usefixtures("isolated_logging")]

THREADS = 6
LINES_PER_THREAD = 4000
MAX_BYTES = 64 * 1024


def _fd_count() -> int:
    return open_descriptor_count()


def test_concurrent_writers_through_many_rotations_lose_nothing(tmp_path: Path) -> None:
    fds_before = _fd_count()
    configure_logging(log_dir=tmp_path, max_bytes=MAX_BYTES, backup_count=10_000, console=False)
    start = threading.Barrier(THREADS, timeout=30)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            start.wait()
            ours = get_logger("precog.stress")
            library = logging.getLogger("somelib.stress")
            for seq in range(LINES_PER_THREAD):
                # Half through structlog, half through stdlib; a variable-length payload so
                # that lines straddle rotation boundaries at every possible offset.
                if seq % 2:
                    ours.info("tick", worker=worker, seq=seq, pad="p" * (seq % 97))
                else:
                    library.info(
                        "tick", extra={"worker": worker, "seq": seq, "pad": "q" * (seq % 89)}
                    )
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(THREADS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    elapsed = time.monotonic() - began
    assert not any(thread.is_alive() for thread in threads), "writers did not finish in 240 s"
    assert errors == []

    records = read_json_lines(tmp_path)  # raises on any line that is not strict JSON
    seen = Counter((r["worker"], r["seq"]) for r in records)
    expected = {(w, s) for w in range(THREADS) for s in range(LINES_PER_THREAD)}
    assert set(seen) == expected, f"missing {len(expected - set(seen))} lines"
    duplicates = {key: n for key, n in seen.items() if n > 1}
    assert duplicates == {}
    # Each writer's lines appear in its own order (one lock serialises writes).
    for worker in range(THREADS):
        order = [r["seq"] for r in records if r["worker"] == worker]
        assert order == sorted(order)

    files = log_files(tmp_path)
    assert len(files) > 50, f"only {len(files)} files: rotation did not happen many times"
    assert all(p.stat().st_size <= MAX_BYTES for p in files)
    rate = THREADS * LINES_PER_THREAD / elapsed
    assert rate > 300, f"sanity: only {rate:.0f} lines/s across {THREADS} threads"

    configure_logging(console=False)
    assert _fd_count() <= fds_before, "log file handles leaked"
