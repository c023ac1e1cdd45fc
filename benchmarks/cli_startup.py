"""Benchmark 6, CLI start-up: `precog --help` and `precog --version` wall time.

Reference: `python -c pass` with the same interpreter, measured interleaved in the same run.
Target: each under 0.5 s (a wall time a user waits for; median of the runs).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.suite import Options, Result

TITLE = "CLI start-up: precog --help / --version vs python -c pass"
NAME = "cli_startup"
TARGET_SECONDS = 0.5


def _precog() -> list[str]:
    script = Path(sys.executable).with_name("precog")
    return [str(script)] if script.exists() else [sys.executable, "-m", "precog"]


def _wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=60)  # fmt: skip
    return time.perf_counter() - started


def run(options: Options) -> list[Result]:
    runs = options.size(quick=3, default=9)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "precog --help": [*_precog(), "--help"],
        "precog --version": [*_precog(), "--version"],
    }
    for argv in commands.values():
        _wall(argv, env)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(_wall(argv, env))
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    reference = medians["python -c pass"]
    return [
        Result(NAME, name, medians[name], "s", "python -c pass", reference,
               f"< {TARGET_SECONDS} s", medians[name] < TARGET_SECONDS,
               {"samples": times[name], "reference_samples": times["python -c pass"]})
        for name in ("precog --help", "precog --version")
    ]  # fmt: skip
