#!/usr/bin/env python3
"""Mutation testing of the core (`make mutation [MODULE=name]`): do the tests catch bugs?

For each core target below, mutmut makes small deliberate bugs in the target's source files
(one mutant at a time) and runs the tests of that target only; a mutant is killed when a
test fails. Every target runs in its own workspace, build/mutation/<target>/ (symlinks to
src/, tests/ and conftest.py, plus a pyproject.toml whose [tool.mutmut] names the files to
mutate and the tests to run), always from scratch, under `nice -n 19`, one target at a time.

Results go to docs/reports/mutation_scores.json (one entry per target, replaced when the
target is run again): mutants, killed, survived, timeouts, score, seconds taken and the
names of the surviving mutants. Equivalent mutants (they cannot change behaviour) are listed
with their reason in tests/mutation_equivalents.toml and do not count.

    score = (killed + timeout) / (mutants - equivalent)

Exit status: 0 when every target run scores at least the threshold (80%), 1 when one scores
below, 2 for an unknown target name, 4 when mutmut itself fails to run (e.g. the clean tests
fail in the workspace).

Usage: mutation.py [--module NAME ...] [--list] [--show NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fnmatch
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
RESULTS = ROOT / "docs" / "reports" / "mutation_scores.json"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
THRESHOLD = 0.80
MUTATION_DATABASE = "precog_mutation_test"  # a test database name: the guard allows it
EXIT_BELOW, EXIT_USAGE, EXIT_TOOL = 1, 2, 4


@dataclass(frozen=True)
class Target:
    """One core unit: the source files mutated and the test files (globs) that must catch it."""

    name: str
    module: str  # the gate module (tests/modules.toml) whose tests these are
    sources: tuple[str, ...]
    tests: tuple[str, ...]
    # mutant name globs when only part of the sources is the core (default: everything)
    functions: tuple[str, ...] = ()
    # its tests need PostgreSQL: one server for the whole run, one mutant at a time (the
    # tests of a session share their databases)
    database: bool = False
    # mutant name globs left out, and why (shown in the results and the report)
    excluded: tuple[str, ...] = ()
    excluded_because: str = ""

    def selects(self, mutant: str) -> bool:
        if any(fnmatch.fnmatchcase(mutant, f) for f in self.excluded):
            return False
        return not self.functions or any(fnmatch.fnmatchcase(mutant, f) for f in self.functions)

    def test_files(self) -> list[str]:
        found: list[str] = []
        for pattern in self.tests:
            found.extend(sorted(glob.glob(pattern, root_dir=ROOT)))
        return list(dict.fromkeys(found))

    @property
    def exists(self) -> bool:
        return all((ROOT / source).is_file() for source in self.sources)


# The core of SPEC §5, each against the fast tests of its own module (unit and property;
# integration for the SCD2 writer, whose logic is SQL). e2e tests run the command in a
# subprocess that mutmut cannot switch mutants in; stress, race, performance and chaos tests
# prove other things at a cost that would multiply by the number of mutants.
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "scd2",
            "crud_operations",
            ("src/precog/database/scd2.py",),
            ("tests/unit/test_crud_operations_scd2_*.py",),
            # the SCD2 writer's logic that runs without a database: batch preparation and
            # validation, exact encoding, parameters, result arithmetic
            (
                "precog.database.scd2.x_prepare*",
                "precog.database.scd2.x__validate*",
                "precog.database.scd2.x_encode_json*",
                "precog.database.scd2.x__encode_*",
                "precog.database.scd2.x__param*",
                "precog.database.scd2.x_sql_param*",
                "precog.database.scd2.x__utc*",
                "precog.database.scd2.x_is_retryable_conflict*",
                "precog.database.scd2.xǁUpsertResultǁ*",
                "precog.database.scd2.xǁColumnǁ*",
                "precog.database.scd2.xǁScd2Tableǁ*",
            ),
        ),
        Target(
            "scd2_sql",
            "crud_operations",
            ("src/precog/database/scd2.py",),
            (
                "tests/unit/test_crud_operations_scd2_*.py",
                "tests/property/test_crud_operations_scd2_*.py",
                "tests/integration/test_crud_operations_scd2_*.py",
            ),
            # the writer's database side: every mutant runs the tests that reach it against
            # one PostgreSQL server (about 1.6 s a mutant; some 5 min for the ~160 mutants)
            (
                "precog.database.scd2.xǁScd2Writerǁ_write*",
                "precog.database.scd2.xǁScd2Writerǁupsert*",
                "precog.database.scd2.xǁScd2Writerǁpatch_current*",
                "precog.database.scd2.xǁScd2Writerǁ_run*",
                "precog.database.scd2.xǁScd2Writerǁ_key_arrays*",
            ),
            database=True,
            excluded=(
                "precog.database.scd2.xǁScd2Writerǁ__init__*",
                "precog.database.scd2.xǁScd2Writerǁ_build_statements*",
                "precog.database.scd2.x__array_type*",
                "precog.database.scd2.x__names*",
                "precog.database.scd2.x__typed*",
                "precog.database.scd2.x__arrays*",
            ),
            excluded_because=(
                "the SQL statements are composed once, when crud_operations is imported, before "
                "mutmut forks the run of each mutant, so a mutant there is never executed "
                "(mutmut 3 switches mutants at call time); the integration and property tests "
                "against PostgreSQL prove those statements instead"
            ),
        ),
        Target(
            "kalshi_auth",
            "kalshi_auth",
            ("src/precog/api_connectors/kalshi_auth.py",),
            ("tests/unit/test_kalshi_auth_*.py", "tests/property/test_kalshi_auth_*.py"),
        ),
        Target(
            "rate_limiter",
            "kalshi_client",
            ("src/precog/api_connectors/rate_limiter.py",),
            ("tests/unit/test_kalshi_client_rate_limiter*.py",),
        ),
        Target(
            "kalshi_models",
            "kalshi_client",
            ("src/precog/api_connectors/kalshi_models.py",),
            # unit tests only: with the parser property tests each of the ~1750 mutants
            # takes seconds (measured: 15 mutants a minute, about two hours in all). The
            # client's own unit tests (a transport double, a fake clock; under a second in
            # all) parse every response through these parsers, so they belong here too.
            (
                "tests/unit/test_kalshi_client_models*.py",
                "tests/unit/test_kalshi_client_field*.py",
                "tests/unit/test_kalshi_client_records*.py",
                "tests/unit/test_kalshi_client_positions*.py",
                "tests/unit/test_kalshi_client_market_*.py",
                "tests/unit/test_kalshi_client_parsers*.py",
                "tests/unit/test_kalshi_client_rest.py",
                "tests/unit/test_kalshi_client_history.py",
            ),
        ),
        Target(
            "kalshi_websocket",
            "kalshi_websocket",
            (
                "src/precog/schedulers/kalshi_websocket.py",
                "src/precog/api_connectors/kalshi_stream_models.py",
            ),
            ("tests/unit/test_kalshi_websocket_*.py", "tests/property/test_kalshi_websocket_*.py"),
            # the order book and seq handling, not the connection/subscription machinery
            (
                "precog.schedulers.kalshi_websocket.xǁKalshiWebSocketǁ_dispatch*",
                "precog.schedulers.kalshi_websocket.xǁKalshiWebSocketǁ_on_book*",
                "precog.schedulers.kalshi_websocket.xǁKalshiWebSocketǁ_gap*",
                "precog.schedulers.kalshi_websocket.xǁKalshiWebSocketǁ_resync*",
                "precog.api_connectors.kalshi_stream_models.xǁOrderBookǁ*",
                "precog.api_connectors.kalshi_stream_models.xǁBookUpdateǁ*",
                "precog.api_connectors.kalshi_stream_models.x_parse_book*",
                "precog.api_connectors.kalshi_stream_models.x__book_side*",
                "precog.api_connectors.kalshi_stream_models.x__fast_decimal*",
            ),
        ),
        Target(
            "environment",
            "config_loader",
            ("src/precog/config/environment.py",),
            ("tests/unit/test_environment_*.py", "tests/unit/test_config_loader_*.py"),
        ),
        Target(
            "config_loader",
            "config_loader",
            ("src/precog/config/config_loader.py",),
            ("tests/unit/test_config_loader_*.py", "tests/property/test_config_loader_*.py"),
        ),
        Target(
            "espn_models",
            "espn_client",
            ("src/precog/api_connectors/espn_models.py",),
            # unit tests only, as for kalshi_models: with the parser-totality property test
            # the ~900 mutants take about 30 min
            ("tests/unit/test_espn_client_*.py",),
        ),
    )
}


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant name -> why it cannot change behaviour."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    result = {}
    for index, entry in enumerate(data.get("equivalent", [])):
        if not entry.get("mutant") or not entry.get("reason"):
            raise ValueError(f"{path}: entry #{index + 1} needs both mutant and reason")
        result[str(entry["mutant"])] = str(entry["reason"])
    return result


def source_fingerprint(target: Target) -> str:
    """A digest of the target's source files: mutant names are only valid for these bytes."""
    digest = hashlib.sha256()
    for source in target.sources:
        digest.update(source.encode() + b"\0" + (ROOT / source).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def prepare_workspace(target: Target) -> Path:
    """A fresh directory where mutmut sees only this target's sources and tests."""
    workspace = WORK / target.name
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for name in ("src", "tests", "conftest.py"):
        (workspace / name).symlink_to(ROOT / name)
    write_settings(workspace, target)
    return workspace


def write_settings(workspace: Path, target: Target) -> None:
    """The workspace's pyproject.toml: ours plus a [tool.mutmut] table for this target."""
    settings = {
        "source_paths": ["src"],
        "only_mutate": list(target.sources),
        "pytest_add_cli_args_test_selection": target.test_files(),
        # One process per mutant run; no gate recording (coverage tracing would only slow it).
        "pytest_add_cli_args": ["-p", "no:xdist", "-p", "no:tests.plugins.gate"],
        "also_copy": ["conftest.py"],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (workspace / "pyproject.toml").write_text(pyproject + "\n".join(lines) + "\n", "utf-8")


def read_statuses(workspace: Path, target: Target) -> dict[str, str]:
    """Mutant name -> mutmut's status word, from the .meta files of the run."""
    from mutmut.stats import status_by_exit_code

    statuses: dict[str, str] = {}
    for meta in sorted((workspace / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data.get("exit_code_by_key", {}).items():
            if target.selects(name):
                statuses[name] = status_by_exit_code[code]
    return statuses


def score(statuses: dict[str, str], equivalents: dict[str, str]) -> dict[str, Any]:
    """Counts and the score of one target's mutants."""
    equivalent = sorted(name for name in statuses if name in equivalents)
    counted = {n: s for n, s in statuses.items() if n not in equivalents}
    killed = sum(1 for s in counted.values() if s in {"killed", "caught by type check"})
    timeout = sum(1 for s in counted.values() if s == "timeout")
    undetected = sorted(n for n, s in counted.items() if s not in {"killed", "timeout"})
    denominator = len(counted)
    return {
        "mutants": len(statuses),
        "killed": killed,
        "timeout": timeout,
        "survived": len(undetected),
        "equivalent": equivalent,
        "surviving": {name: counted[name] for name in undetected},
        "score": round((killed + timeout) / denominator, 4) if denominator else None,
    }


def run_target(target: Target, equivalents: dict[str, str]) -> dict[str, Any]:
    workspace = prepare_workspace(target)
    log = WORK / f"{target.name}.log"
    mutmut = Path(sys.executable).parent / "mutmut"
    children = "1" if target.database else "2"
    command = ["nice", "-n", "19", str(mutmut), "run", "--max-children", children]
    command += target.functions
    print(f"mutation {target.name}: {', '.join(target.sources)} against", flush=True)
    for test in target.test_files():
        print(f"    {test}", flush=True)
    commit = _git_head()  # the code and tests the run starts from
    fingerprint = source_fingerprint(target)
    started = time.monotonic()
    env = dict(os.environ)
    with log.open("w", encoding="utf-8") as out, database_server(target.database) as url:
        if url is not None:
            env["DATABASE_URL"] = url
        status = subprocess.call(
            command, cwd=workspace, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    seconds = round(time.monotonic() - started, 1)
    statuses = read_statuses(workspace, target)
    if status != 0 or not statuses:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise RuntimeError(
            f"mutmut failed for {target.name} (exit {status}, {len(statuses)} mutants); "
            f"see {log.relative_to(ROOT)}:\n" + "\n".join(tail)
        )
    result = score(statuses, equivalents)
    result.update(
        module=target.module,
        sources=list(target.sources),
        functions=list(target.functions),
        excluded=list(target.excluded),
        excluded_because=target.excluded_because,
        tests=target.test_files(),
        seconds=seconds,
        finished=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        commit=commit,
        source_sha256=fingerprint,
        mutmut=_mutmut_version(),
    )
    return result


@contextlib.contextmanager
def database_server(needed: bool) -> Iterator[str | None]:
    """A PostgreSQL server kept up for the whole run (a test session per mutant would
    otherwise start and stop its own), stopped afterwards."""
    if not needed:
        yield None
        return
    from precog.database import embedded

    embedded.ensure_runtime_dir()
    data_dir = WORK / "postgres"
    server = embedded.start_server(data_dir, keep_running=True)
    try:
        embedded.ensure_database(server, MUTATION_DATABASE)
        yield server.url(MUTATION_DATABASE)
    finally:
        embedded.stop_server(data_dir)


def _git_head() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def save(results: dict[str, dict[str, Any]], path: Path = RESULTS) -> None:
    """Merge the new per-target results into the results file."""
    existing: dict[str, Any] = {}
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))
    targets = existing.get("targets", {})
    targets.update(results)
    payload = {
        "threshold": THRESHOLD,
        # every target whose source exists: the report flags the ones without a result
        "expected": sorted(name for name, target in TARGETS.items() if target.exists),
        "targets": dict(sorted(targets.items())),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def retest(name: str, equivalents: dict[str, str]) -> int:
    """Run the last run's undetected mutants of one target again, against the current tests
    (after tests were added for them); the other mutants keep their verdicts."""
    target = TARGETS[name]
    workspace = WORK / name
    existing = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    previous = existing.get("targets", {}).get(name)
    if previous is not None and previous.get("source_sha256") != source_fingerprint(target):
        # mutmut renumbers the mutants of a changed file: the old names point elsewhere
        print(
            f"mutation: the source of {name} changed since its last run; run it in full: "
            f"make mutation MODULE={name}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    before = read_statuses(workspace, target)
    if previous is None or not before:
        print(f"mutation: no earlier run of {name} to retest; run it first", file=sys.stderr)
        return EXIT_USAGE
    again = sorted(n for n, s in before.items() if s not in {"killed", "timeout"})
    write_settings(workspace, target)
    mutmut = Path(sys.executable).parent / "mutmut"
    commit = _git_head()
    started = time.monotonic()
    log = WORK / f"{name}.retest.log"
    with log.open("w", encoding="utf-8") as out:
        subprocess.call(
            ["nice", "-n", "19", str(mutmut), "run", "--max-children", "2", *again],
            cwd=workspace,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    after = read_statuses(workspace, target)
    statuses = {n: (after.get(n, s) if n in again else s) for n, s in before.items()}
    result = {
        **previous,
        **score(statuses, equivalents),
        "seconds": round(float(previous["seconds"]) + time.monotonic() - started, 1),
        "tests": target.test_files(),
        "retested": {"commit": commit, "mutants": len(again)},
    }
    save({name: result})
    print(summary_line(name, result))
    return EXIT_BELOW if result["score"] is None or result["score"] < THRESHOLD else 0


def rescore(names: list[str], equivalents: dict[str, str]) -> int:
    """Recount the targets' last runs (their workspaces) against the current equivalents."""
    existing = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results = {}
    for name in names:
        previous = existing.get("targets", {}).get(name)
        statuses = read_statuses(WORK / name, TARGETS[name])
        if previous is None or not statuses:
            continue
        target = TARGETS[name]
        results[name] = {
            **previous,
            **score(statuses, equivalents),
            "excluded": list(target.excluded),
            "excluded_because": target.excluded_because,
        }
        print(summary_line(name, results[name]))
    save(results)
    below = [n for n, r in results.items() if r["score"] is None or r["score"] < THRESHOLD]
    return EXIT_BELOW if below else 0


def summary_line(name: str, result: dict[str, Any]) -> str:
    value = result["score"]
    shown = "n/a" if value is None else f"{value:.1%}"
    verdict = "ok" if value is not None and value >= THRESHOLD else "BELOW 80%"
    return (
        f"{name:18} {shown:>5}  {result['killed'] + result['timeout']}/"
        f"{result['mutants'] - len(result['equivalent'])} killed, {result['survived']} survived, "
        f"{len(result['equivalent'])} equivalent, {result['seconds']:.0f} s  {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module", action="append", help="run only this target (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument(
        "--retest",
        action="store_true",
        help="run the last run's surviving mutants of --module NAME again with the current tests",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="recount the last run of each target with the current equivalent list (no rerun)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for target in TARGETS.values():
            state = "" if target.exists else "  (pending: source missing)"
            print(f"{target.name:18} {', '.join(target.sources)}{state}")
        return 0
    names = args.module or list(TARGETS)
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        print(
            f"mutation: unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    equivalents = load_equivalents()
    if args.rescore:
        return rescore(names, equivalents)
    if args.retest:
        return sum(retest(name, equivalents) for name in args.module or []) and EXIT_BELOW
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        target = TARGETS[name]
        if not target.exists:
            print(f"mutation {name}: skipped, source not there yet ({', '.join(target.sources)})")
            continue
        try:
            results[name] = run_target(target, equivalents)
        except RuntimeError as error:
            print(f"mutation: {error}", file=sys.stderr)
            save(results)
            return EXIT_TOOL
        save(results)
        print(summary_line(name, results[name]), flush=True)
        for mutant, status in results[name]["surviving"].items():
            print(f"    {status}: {mutant}")
    below = [n for n, r in results.items() if r["score"] is None or r["score"] < THRESHOLD]
    print(f"\nresults: {RESULTS.relative_to(ROOT)}")
    return EXIT_BELOW if below else 0


if __name__ == "__main__":
    os.environ["PRECOG_ENV"] = "test"
    os.environ["PRECOG_MUTATION_RUN"] = "1"  # read by tests/plugins/session_env.py
    os.environ["HYPOTHESIS_PROFILE"] = "mutation"  # 10 examples per property test
    os.environ.pop("CI", None)  # CI selects the 150-example profile
    os.environ.pop("DATABASE_URL", None)  # the embedded test database, never another
    sys.exit(main())
