#!/usr/bin/env python3
"""Audit what the test run actually executed: the module x test-type matrix and the rules.

Reads the records written by the gate plugin (tests/plugins/gate.py) into
`$PRECOG_GATE_DIR` (default build/test-records/), the module registry (tests/modules.toml)
and the skip approvals (tests/skip_approvals.toml).

A (module, type) cell counts the PASSED tests of that type that declare the module and
executed its code. With --strict the audit fails (exit 1) on:
  - an empty cell of a module whose source exists (pending modules are listed, not failed);
  - any failed or errored test;
  - any skip / xfail / xpass without an active approval;
  - any test outside the eight type directories;
  - any test that declares a module it did not execute, or an unregistered module;
  - no records at all (nothing ran).

Usage: audit_test_type_coverage.py [--strict] [--json] [--report PATH] [--slowest N]
       [--records DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.plugins.registry import (  # noqa: E402
    TEST_TYPES,
    ModuleSpec,
    approval_problem,
    load_approvals,
    load_modules,
)


@dataclass
class Audit:
    modules: dict[str, ModuleSpec]
    records: list[dict[str, Any]]
    performance: list[dict[str, Any]]
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> list[str]:
        return [name for name, spec in self.modules.items() if not spec.source_exists]


def read_records(directory: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records: dict[str, dict[str, Any]] = {}
    performance: list[dict[str, Any]] = []
    for path in sorted(directory.glob("records-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["nodeid"]] = record  # a re-run of the same id replaces it
    for path in sorted(directory.glob("performance-*.jsonl")):
        performance.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return list(records.values()), performance


def audit(directory: Path, today: dt.date | None = None) -> Audit:
    modules = load_modules()
    approvals = load_approvals()
    records, performance = read_records(directory)
    result = Audit(modules, records, performance)
    result.matrix = {name: dict.fromkeys(TEST_TYPES, 0) for name in modules}
    if not records:
        result.problems.append(f"no test records in {directory}: did the tests run?")
    for record in records:
        _check_record(result, record, approvals, today)
    for name, spec in modules.items():
        if not spec.source_exists:
            continue
        for test_type in spec.required:
            if result.matrix[name][test_type] == 0:
                result.problems.append(
                    f"module {name}: no passing {test_type} test that declares and executes it"
                )
    return result


def _check_record(
    result: Audit, record: dict[str, Any], approvals: dict[str, Any], today: dt.date | None
) -> None:
    nodeid, outcome, test_type = record["nodeid"], record["outcome"], record["type"]
    result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    if test_type not in TEST_TYPES:
        result.problems.append(f"{nodeid}: outside the eight type directories")
        return
    if outcome in {"failed", "error"}:
        result.problems.append(f"{nodeid}: {outcome}")
    elif outcome in {"skipped", "xfailed", "xpassed"}:
        problem = approval_problem(nodeid, approvals, today)
        if problem is not None:
            result.problems.append(f"{nodeid}: {outcome}, {problem}")
    executed = set(record.get("executed_modules", []))
    for name in record["modules"]:
        if name not in result.modules:
            result.problems.append(f"{nodeid}: declares unregistered module {name!r}")
        elif outcome == "passed" and name not in executed:
            result.problems.append(
                f"{nodeid}: declares module {name!r} but did not execute its code"
            )
        elif outcome == "passed":
            result.matrix[name][test_type] += 1


def render_matrix(result: Audit) -> str:
    width = max(len(name) for name in result.modules) + 2
    header = "module".ljust(width) + "".join(t[:5].rjust(7) for t in TEST_TYPES) + "   status"
    lines = [header, "-" * len(header)]
    for name, spec in result.modules.items():
        row = result.matrix[name]
        if not spec.source_exists:
            cells = "".join("-".rjust(7) for _ in TEST_TYPES)
            status = "pending (no source yet)"
        else:
            cells = "".join(str(row[t]).rjust(7) for t in TEST_TYPES)
            filled = sum(1 for t in spec.required if row[t] > 0)
            status = f"{filled}/{len(spec.required)}"
        lines.append(name.ljust(width) + cells + "   " + status)
    totals = ", ".join(f"{count} {outcome}" for outcome, count in sorted(result.outcomes.items()))
    lines.append("")
    lines.append(f"tests recorded: {len(result.records)} ({totals or 'none'})")
    per_type = ", ".join(f"{t} {s:.0f} s" for t, s in type_durations(result).items())
    lines.append(f"test time per type (summed over workers): {per_type or 'none'}")
    return "\n".join(lines)


def type_durations(result: Audit) -> dict[str, float]:
    """Seconds spent per test type (setup + call + teardown, summed over workers)."""
    totals = dict.fromkeys(TEST_TYPES, 0.0)
    for record in result.records:
        if record["type"] in totals:
            totals[record["type"]] += float(record.get("duration", 0.0))
    return totals


def render_slowest(result: Audit, count: int) -> str:
    """The `count` slowest tests, one per line (seconds, test id)."""
    ranked = sorted(result.records, key=lambda r: float(r.get("duration", 0.0)), reverse=True)
    lines = [f"{float(r.get('duration', 0.0)):7.2f} s  {r['nodeid']}" for r in ranked[:count]]
    return "\n".join([f"slowest {len(lines)} tests:", *lines])


def render_report(result: Audit) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Phase completion report",
        "",
        f"Generated {now} by `scripts/audit_test_type_coverage.py` from the records of the",
        "test run (what pytest executed, not file names).",
        "",
        "## Module x test type (passing tests that declare and execute the module)",
        "",
        "```",
        render_matrix(result),
        "```",
        "",
        "## Gate",
        "",
    ]
    if result.problems:
        lines.append(f"FAILED: {len(result.problems)} problem(s)")
        lines.extend(f"- {p}" for p in result.problems)
    else:
        lines.append("PASSED: every required cell is filled; 0 failed, 0 unapproved skip/xfail.")
    lines += ["", "## Slowest tests", "", "```", render_slowest(result, 10), "```"]
    if result.performance:
        lines += ["", "## Performance ratios measured in this run", ""]
        lines.append("| test | candidate vs baseline | speedup | required |")
        lines.append("|---|---|---|---|")
        for perf in result.performance:
            lines.append(
                f"| `{perf['test']}` | {perf['candidate_name']} vs {perf['baseline_name']} "
                f"| {perf['speedup']:.2f}x | >= {perf['min_speedup']:g}x |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 when any rule fails")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--report", type=Path, help="write the phase completion report here")
    parser.add_argument("--slowest", type=int, default=0, help="also list the N slowest tests")
    parser.add_argument(
        "--records",
        type=Path,
        default=Path(os.environ.get("PRECOG_GATE_DIR", REPO_ROOT / "build" / "test-records")),
        help="directory of the gate records (default: $PRECOG_GATE_DIR or build/test-records)",
    )
    args = parser.parse_args(argv)
    result = audit(args.records)
    if args.json:
        print(
            json.dumps(
                {
                    "matrix": result.matrix,
                    "pending": result.pending,
                    "outcomes": result.outcomes,
                    "problems": result.problems,
                    "performance": result.performance,
                },
                indent=2,
            )
        )
    else:
        print(render_matrix(result))
        if args.slowest:
            print("\n" + render_slowest(result, args.slowest))
        if result.problems:
            print(f"\ngate: {len(result.problems)} problem(s):")
            for problem in result.problems:
                print(f"  - {problem}")
        else:
            print("\ngate: passed")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(render_report(result), encoding="utf-8")
    return 1 if args.strict and result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
