"""Run the suite: `python -m benchmarks [NAME...] [--quick] [--full] [--json] [--no-save]`.

`precog bench` calls `run` with the same arguments. Every run is appended to
`benchmarks/results/history.jsonl` with the machine's description (unless --no-save).
Exit codes: 0 all ran (targets met or not: the table says), 1 a benchmark failed,
2 an unknown benchmark name.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from benchmarks.suite import Options, Result, Unavailable, machine, now, save, table

# In the order the suite runs them (and the issue numbers them).
BENCHMARKS = (
    "scd2_ingestion",
    "scd2_scale",
    "websocket_pipeline",
    "poll_cycle",
    "espn_parse",
    "cli_startup",
    "cold_start",
)


class UnknownBenchmarkError(ValueError):
    pass


def select(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise UnknownBenchmarkError(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return [n for n in BENCHMARKS if not names or n in names]


def run(
    names: Sequence[str],
    *,
    quick: bool = False,
    full: bool = False,
    as_json: bool = False,
    keep: bool = True,
) -> int:
    try:
        selected = select(names)
    except UnknownBenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = Options(quick=quick, full=full)
    record: dict[str, Any] = {
        "started_at": now(),
        "command": "precog bench "
        + " ".join([*names, *(["--quick"] if quick else []), *(["--full"] if full else [])]),
        "machine": machine(),
        "benchmarks": {},
        "results": [],
    }
    results: list[Result] = []
    status = 0
    log = sys.stderr if as_json else sys.stdout
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}: {module.TITLE}", file=log, flush=True)
        started = time.perf_counter()
        entry: dict[str, Any] = {}
        try:
            found: list[Result] = module.run(options)
        except Unavailable as exc:
            entry["status"] = f"unavailable: {exc}"
            print(f"   not run: {exc}", file=log, flush=True)
        except Exception as exc:  # one failing benchmark must not hide the others' figures
            status = 1
            entry["status"] = f"failed: {type(exc).__name__}: {exc}"
            traceback.print_exc(file=sys.stderr)
        else:
            entry["status"] = "ok"
            results += found
            print(table(found), file=log, flush=True)
        entry["seconds"] = round(time.perf_counter() - started, 2)
        record["benchmarks"][name] = entry
    record["results"] = [r.as_dict() for r in results]
    record["finished_at"] = now()
    if keep:
        path = save(record)
        print(f"results appended to {path}", file=log)
    if as_json:
        print(json.dumps(record, indent=2, default=str))
    else:
        print("\n== summary\n" + table(results))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--full", action="store_true", help="the largest sizes (slow)")
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    return run(
        args.names, quick=args.quick, full=args.full, as_json=args.json, keep=not args.no_save
    )
