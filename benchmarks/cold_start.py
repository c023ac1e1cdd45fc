"""Benchmark 7, cold start: `precog run` from a stopped embedded server to the first version.

A scratch PRECOG_HOME (build/bench-home) is migrated once and its server stopped. Then,
per run: `precog run --no-ui` is started (in-process sandbox exchange, embedded
PostgreSQL started by the command) and the clock stops at the first row in `markets`,
watched through the server's socket once its postmaster.pid exists; the service is then
interrupted (Ctrl-C) and the server stopped again. Reference in the same run: `precog db
status` from the same stopped server (server start and one query, nothing else).
Target: under 5 s (a wall time a user waits for; median of the runs).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.suite import ROOT, Options, Result

TITLE = "Cold start: precog run from a stopped server to the first stored version"
NAME = "cold_start"
TARGET_SECONDS = 5.0
HOME = ROOT / "build" / "bench-home"
LIMIT = 60.0


def _precog() -> list[str]:
    script = Path(sys.executable).with_name("precog")
    return [str(script)] if script.exists() else [sys.executable, "-m", "precog"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "KALSHI_API_BASE_URL", "KALSHI_WS_URL")}  # fmt: skip
    env.update(PRECOG_HOME=str(HOME), PRECOG_ENV="dev", KALSHI_MODE="sandbox")
    return env


def _precog_cmd(*args: str) -> None:
    subprocess.run([*_precog(), *args], env=_env(), check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _first_version(started: float) -> float:
    """Seconds from `started` until `markets` has a row (polled through the socket)."""
    import psycopg

    pid_file = HOME / "postgres" / "postmaster.pid"
    while time.perf_counter() - started < LIMIT:
        if pid_file.exists():
            lines = pid_file.read_text().splitlines()
            if len(lines) >= 5:
                conninfo = f"host={lines[4]} port={lines[3]} user=postgres dbname=precog_dev"
                try:
                    with psycopg.connect(conninfo, connect_timeout=2) as conn:
                        if conn.execute("SELECT 1 FROM markets LIMIT 1").fetchone():
                            return time.perf_counter() - started
                except psycopg.Error:
                    pass  # starting up, or not migrated yet
        time.sleep(0.02)
    raise TimeoutError(f"no stored version within {LIMIT:.0f} s")


def _one_run() -> float:
    log = (HOME / "run.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen([*_precog(), "run", "--no-ui"], env=_env(), stdout=log, stderr=log)
    try:
        return _first_version(started)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _precog_cmd("db", "stop")


def run(options: Options) -> list[Result]:
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    _precog_cmd("db", "upgrade")
    _precog_cmd("db", "stop")
    runs = options.size(quick=1, default=3)
    figures, references = [], []
    for _ in range(runs):
        started = time.perf_counter()
        _precog_cmd("db", "status")
        references.append(time.perf_counter() - started)
        _precog_cmd("db", "stop")
        figures.append(_one_run())
    figure, reference = statistics.median(figures), statistics.median(references)
    return [
        Result(NAME, "precog run: stopped server -> first stored version", figure, "s",
               "precog db status (cold)", reference, f"< {TARGET_SECONDS:g} s",
               figure < TARGET_SECONDS, {"runs": figures, "reference_runs": references}),
    ]  # fmt: skip
