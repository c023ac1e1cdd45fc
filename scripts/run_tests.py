#!/usr/bin/env python3
"""Precog's one test run: every test of every type, then the gate (`make test`, CI, pre-push).

Phases, in this order, each in its own pytest process:

1. shared: unit, property, integration, e2e, chaos, stress and race tests, spread over
   every core (pytest-xdist, work stealing). Race and stress tests belong here on purpose:
   they must hold on a busy machine, and their waits are bounded and fail the test.
2. quiet: the performance tests alone, because their same-run ratios need a quiet machine.
3. the gate: `scripts/audit_test_type_coverage.py --strict`, run whatever the phases
   returned, so that a red run still prints the module x type matrix, the ten slowest
   tests and the report.

The exit status is 0 only if every phase passed. `--repeat N` runs the whole sequence N
times and lists every test whose outcome changed between runs (a flaky test), failing if
any did; `--contention` keeps one busy process per core running meanwhile, to shake out
tests that depend on scheduling luck. Runs on Linux, macOS and Windows (no shell needed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
RECORDS = BUILD / "test-records"
SHARED_TYPES = ("unit", "property", "integration", "e2e", "chaos", "stress", "race")
QUIET_TYPES = ("performance",)


def phases(workers: int) -> list[tuple[str, list[str]]]:
    """(name, pytest arguments) of each test phase."""
    pytest = [sys.executable, "-m", "pytest"]
    shared = [f"tests/{t}" for t in SHARED_TYPES]
    quiet = [f"tests/{t}" for t in QUIET_TYPES]
    return [
        ("shared", [*pytest, "-n", str(workers), "--dist", "worksteal", *shared]),
        (
            "quiet",
            [
                *pytest,
                "-p",
                "no:xdist",
                *quiet,
                f"--benchmark-json={BUILD / 'benchmark-results.json'}",
                "--benchmark-columns=median,iqr,rounds,iterations",
            ],
        ),
    ]


def run_once(workers: int, extra: Sequence[str]) -> tuple[int, dict[str, str]]:
    """One full run; returns (exit status, outcome per test id)."""
    shutil.rmtree(RECORDS, ignore_errors=True)
    env = {**os.environ, "PRECOG_ENV": "test"}
    failed: list[str] = []
    for name, command in phases(workers):
        print(f"\n=== phase {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        status = subprocess.call([*command, *extra], cwd=ROOT, env=env)
        print(
            f"=== phase {name}: exit {status} after {time.monotonic() - started:.0f} s", flush=True
        )
        if status != 0:
            failed.append(f"{name} (exit {status})")
    gate = [
        sys.executable,
        str(ROOT / "scripts" / "audit_test_type_coverage.py"),
        "--strict",
        "--slowest",
        "10",
        "--report",
        str(BUILD / "phase-completion-report.md"),
    ]
    print("\n=== the gate", flush=True)
    if subprocess.call(gate, cwd=ROOT, env=env) != 0:
        failed.append("gate")
    if failed:
        print(f"\nmake test: FAILED: {', '.join(failed)}", flush=True)
    else:
        print("\nmake test: passed (every phase and the gate)", flush=True)
    return (1 if failed else 0), outcomes()


def outcomes() -> dict[str, str]:
    """Outcome per test id from the gate records of the last run."""
    result: dict[str, str] = {}
    for path in sorted(RECORDS.glob("records-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                result[record["nodeid"]] = record["outcome"]
    return result


def flips(runs: Sequence[dict[str, str]]) -> dict[str, list[str]]:
    """Tests whose outcome was not the same in every run (missing counts as 'absent')."""
    ids = sorted(set().union(*runs)) if runs else []
    history = {nodeid: [run.get(nodeid, "absent") for run in runs] for nodeid in ids}
    return {nodeid: seen for nodeid, seen in history.items() if len(set(seen)) > 1}


def _spin() -> None:
    while True:
        pass


@contextmanager
def contention(enabled: bool) -> Iterator[None]:
    """One busy process per core for the duration, when enabled."""
    if not enabled:
        yield
        return
    busy = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)]
    for process in busy:
        process.start()
    print(f"contention: {len(busy)} busy process(es) running", flush=True)
    try:
        yield
    finally:
        for process in busy:
            process.terminate()
        for process in busy:
            process.join(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1, help="run everything N times")
    parser.add_argument("--contention", action="store_true", help="keep every core busy meanwhile")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="xdist workers for the shared phase (default: one per core)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra arguments for every pytest phase")
    args = parser.parse_args(argv)
    statuses: list[int] = []
    runs: list[dict[str, str]] = []
    started = time.monotonic()
    with contention(args.contention):
        for number in range(1, args.repeat + 1):
            if args.repeat > 1:
                print(f"\n##### run {number} of {args.repeat}", flush=True)
            status, seen = run_once(args.workers, args.pytest_args)
            statuses.append(status)
            runs.append(seen)
    if args.repeat > 1:
        changed = flips(runs)
        print(
            f"\n##### {args.repeat} runs in {time.monotonic() - started:.0f} s: exit statuses "
            f"{statuses}"
        )
        if changed:
            print(f"tests whose outcome changed between runs ({len(changed)}):")
            for nodeid, seen in changed.items():
                print(f"  {nodeid}: {' -> '.join(seen)}")
        else:
            print(f"no test changed its outcome between runs ({len(runs[-1])} tests)")
        return 1 if changed or any(statuses) else 0
    return statuses[0]


if __name__ == "__main__":
    sys.exit(main())
