"""Reconfiguring logging while other threads log: no exception, no torn line, no lost line,
no duplicated handler, no leaked file."""

from __future__ import annotations

import io
import logging
import threading
from collections import Counter
from pathlib import Path

import pytest

from precog.utils.logger import SafeRotatingFileHandler, configure_logging, get_logger
from tests.plugins.logging_state import open_file_paths, read_json_lines

pytestmark = [pytest.mark.module("logger"), pytest.mark.usefixtures("isolated_logging")]

WRITERS = 4
LINES_PER_WRITER = 2500
RECONFIGURATIONS = 60


def _open_log_files(*directories: Path) -> list[str]:
    return [p for p in open_file_paths() if any(p.startswith(str(d)) for d in directories)]


def test_reconfiguring_under_concurrent_logging(tmp_path: Path) -> None:
    dir_a, dir_b = tmp_path / "a", tmp_path / "b"
    configure_logging(log_dir=dir_a, max_bytes=32 * 1024, backup_count=5000, console=False)
    start = threading.Barrier(WRITERS + 1, timeout=30)
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            start.wait()
            ours = get_logger("precog.race")
            library = logging.getLogger("somelib.race")
            for seq in range(LINES_PER_WRITER):
                if seq % 2:
                    ours.info("tick", worker=worker, seq=seq, token="never-shown")
                else:
                    library.info("tick", extra={"worker": worker, "seq": seq})
        except BaseException as exc:
            errors.append(exc)

    def reconfigurer() -> None:
        try:
            start.wait()
            for round_ in range(RECONFIGURATIONS):
                if writers_done.is_set():
                    break
                # Alternate directories, rotation sizes and console streams.
                configure_logging(
                    "INFO",
                    log_dir=dir_b if round_ % 2 == 0 else dir_a,
                    max_bytes=(16 + round_ % 3 * 16) * 1024,
                    backup_count=5000,
                    console=round_ % 3 == 0,
                    console_stream=io.StringIO(),
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    changer = threading.Thread(target=reconfigurer)
    for thread in [*threads, changer]:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    writers_done.set()
    changer.join(timeout=60)
    assert not any(t.is_alive() for t in [*threads, changer]), "threads did not finish in time"
    assert errors == []

    # Every line in every file is strict JSON (read_json_lines raises otherwise), and every
    # line logged is in exactly one place: records caught in flight by a retired handler
    # were handed to its successor, not dropped or written twice.
    records = read_json_lines(dir_a) + (read_json_lines(dir_b) if dir_b.exists() else [])
    seen = Counter((r["worker"], r["seq"]) for r in records)
    expected = {(w, s) for w in range(WRITERS) for s in range(LINES_PER_WRITER)}
    assert set(seen) == expected, f"{len(expected - set(seen))} lines lost"
    assert max(seen.values()) == 1, "a line was written twice"
    assert all(r["token"] == "***" for r in records if "token" in r)

    # Exactly one file handler of ours is installed and only its file is open.
    installed = [h for h in logging.getLogger().handlers if isinstance(h, SafeRotatingFileHandler)]
    assert len(installed) == 1
    assert _open_log_files(dir_a, dir_b) == [str(installed[0].path)]
