"""What every benchmark reports, how a run is described, and where results are kept.

A benchmark module exposes `TITLE` and `run(options) -> list[Result]`. Each `Result` is a
figure, a reference measured in the same run, their ratio and the target it is held to.
Absolute figures are noisy on a shared machine; the ratios are what the targets mean,
except for wall times a user waits for (start-up), where the target is the figure itself.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "history.jsonl"


@dataclass(frozen=True)
class Options:
    """How big to run: `quick` for a smoke run, `full` for the largest sizes."""

    quick: bool = False
    full: bool = False

    def size(self, quick: int, default: int, full: int | None = None) -> int:
        if self.quick:
            return quick
        if self.full and full is not None:
            return full
        return default


class Unavailable(Exception):  # noqa: N818 (a state, not a failure)
    """The benchmark cannot run here yet (the code it measures does not exist)."""


@dataclass(frozen=True)
class Result:
    """One figure against its same-run reference.

    `ratio` is figure / reference. `met` is None when the figure has no target of its own
    (a reference row shown for context)."""

    benchmark: str
    name: str
    figure: float
    unit: str
    reference_name: str = ""
    reference: float | None = None
    target: str = ""
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.reference == 0:
            return None
        return self.figure / self.reference

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def machine() -> dict[str, Any]:
    """The machine and software a run was measured on (load average included: it is shared)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in load] if load else None,
        "niceness": os.nice(0) if hasattr(os, "nice") else None,
        "commit": _git_commit(),
    }


def save(record: dict[str, Any], path: Path = RESULTS) -> Path:
    """Append one run (one JSON object per line) so runs can be compared over time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")
    return path


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(results: list[Result]) -> str:
    """The results as an aligned text table: figure, reference, ratio, target, met."""
    rows = [("benchmark", "measurement", "figure", "reference", "ratio", "target", "met")]
    for r in results:
        ratio = r.ratio
        rows.append((
            r.benchmark, r.name, _number(r.figure, r.unit),
            f"{_number(r.reference)} ({r.reference_name})" if r.reference is not None else "-",
            f"{ratio:.2f}x" if ratio is not None else "-", r.target or "-",
            {True: "yes", False: "NO", None: ""}[r.met],
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
