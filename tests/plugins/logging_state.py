"""Logging isolation for tests that call `configure_logging`, and readers for its JSON files.

`configure_logging` installs handlers on the process-wide root logger. The `isolated_logging`
fixture removes whatever a test installed (closing its files) and restores the levels,
so no test leaks handlers, open files or structlog configuration into the next one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import structlog


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    from precog.utils.logger import CHATTY_LIBRARIES, configure_logging

    root = logging.getLogger()
    level = root.level
    library_levels = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    yield
    configure_logging(console=False)  # retires (closes) the handlers the test installed
    root.setLevel(level)
    for name, library_level in library_levels.items():
        logging.getLogger(name).setLevel(library_level)
    structlog.reset_defaults()


def log_files(directory: Path, name: str = "precog.jsonl") -> list[Path]:
    """The current file and its rotated backups, oldest first."""
    backups = sorted(
        (p for p in directory.glob(f"{name}.*") if p.suffix.lstrip(".").isdigit()),
        key=lambda p: int(p.suffix.lstrip(".")),
        reverse=True,
    )
    current = directory / name
    return [*backups, current] if current.exists() else backups


def _strict_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def read_json_lines(directory: Path, name: str = "precog.jsonl") -> list[dict[str, Any]]:
    """Every line of the file and its backups (oldest first), each parsed as strict JSON."""
    records: list[dict[str, Any]] = []
    for path in log_files(directory, name):
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            raise AssertionError(f"{path} ends with a partial line: {data[-80:]!r}")
        for line in data.split(b"\n")[:-1]:
            records.append(json.loads(line, parse_constant=_strict_constant))
    return records


__all__ = ["isolated_logging", "log_files", "read_json_lines"]


def open_file_paths() -> set[str]:
    """Paths of the regular files this process has open (portable: psutil)."""
    return {entry.path for entry in psutil.Process().open_files()}


def open_descriptor_count() -> int:
    """File descriptors (POSIX) or handles (Windows) this process holds."""
    process = psutil.Process()
    return process.num_handles() if os.name == "nt" else process.num_fds()
