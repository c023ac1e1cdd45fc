"""The gate's recorder: what every test was, declared, did and whether it ran its module.

For every test this plugin records (one JSON line per test, in `$PRECOG_GATE_DIR`, default
`build/test-records/`): node id, type, declared modules, outcome, duration, and which of
the declared modules' source files actually executed during the test. Execution is measured
with coverage.py dynamic contexts (one context per test, restricted to the registered
modules' files); code run in a subprocess started through `subprocess_python()` (the
`precog_cli` fixture does) is measured under the same context. Works with pytest-xdist:
each worker writes its own file; `scripts/audit_test_type_coverage.py` reads them all.

Skip governance also lives here: any skip or xfail that is not approved (and unexpired) in
tests/skip_approvals.toml fails the run, with or without the audit's --strict.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coverage
import pytest

from tests.plugins.registry import ModuleSpec, approval_problem, load_approvals, load_modules
from tests.plugins.test_types import TYPE_KEY, declared_modules

RECORDER_KEY = pytest.StashKey["GateRecorder"]()


def record_dir(config: pytest.Config) -> Path:
    configured = os.environ.get("PRECOG_GATE_DIR")
    return Path(configured) if configured else Path(str(config.rootpath)) / "build" / "test-records"


# Expected while measuring only a few files of a large run; warnings are errors in tests.
_QUIET_COVERAGE_WARNINGS = ("no-data-collected", "module-not-measured", "module-not-imported")


class GateRecorder:
    """Per-process recorder: coverage contexts per test plus one record per test."""

    def __init__(self, directory: Path, modules: dict[str, ModuleSpec]) -> None:
        self.directory = directory
        self.modules = modules
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.module_files = {name: {str(f) for f in spec.files()} for name, spec in modules.items()}
        self.all_files = sorted({f for files in self.module_files.values() for f in files})
        self.records: dict[str, dict[str, Any]] = {}
        self.subprocess_dir = directory / "subprocess" / f"{self.worker}-{os.getpid()}"
        self.rcfile = directory / f"coveragerc-{self.worker}-{os.getpid()}"
        self._coverage: coverage.Coverage | None = None

    # -- coverage -------------------------------------------------------------------
    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.subprocess_dir.mkdir(parents=True, exist_ok=True)
        # Subprocesses may run as another user (e.g. a permission test as `nobody`).
        for path in (self.directory, self.subprocess_dir.parent, self.subprocess_dir):
            with contextlib.suppress(PermissionError):
                path.chmod(0o777)
        include = "\n    ".join(self.all_files) or "__no_registered_module_exists__"
        self.rcfile.write_text(
            "[run]\n"
            f"include =\n    {include}\n"
            f"data_file = {self.subprocess_dir / '.coverage'}\n"
            "parallel = True\n"
            f"disable_warnings = {', '.join(_QUIET_COVERAGE_WARNINGS)}\n",
            encoding="utf-8",
        )
        self.rcfile.chmod(0o644)
        self._coverage = coverage.Coverage(
            data_file=None, include=self.all_files or ["__none__"], config_file=False
        )
        self._coverage.set_option("run:disable_warnings", list(_QUIET_COVERAGE_WARNINGS))
        self._coverage.start()

    def switch_context(self, name: str) -> None:
        if self._coverage is not None:
            self._coverage.switch_context(name)

    @contextlib.contextmanager
    def tracing_paused(self) -> Iterator[None]:
        """Stop line tracing (e.g. while a performance test times its repeats)."""
        if self._coverage is None:
            yield
            return
        self._coverage.stop()
        try:
            yield
        finally:
            self._coverage.start()

    def subprocess_python(self, context: str) -> list[str]:
        """Command prefix that runs Python under coverage with the test's context."""
        return [
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--rcfile={self.rcfile}",
            f"--context={context}",
        ]

    def _executed_files_by_context(self) -> dict[str, set[str]]:
        executed: dict[str, set[str]] = {}
        datasets: list[coverage.CoverageData] = []
        if self._coverage is not None:
            self._coverage.stop()
            datasets.append(self._coverage.get_data())
        for path in sorted(self.subprocess_dir.glob(".coverage*")):
            data = coverage.CoverageData(basename=str(path))
            data.read()
            datasets.append(data)
        for data in datasets:
            for measured in data.measured_files():
                resolved = str(Path(measured).resolve())
                for contexts in data.contexts_by_lineno(measured).values():
                    for context in contexts:
                        executed.setdefault(context, set()).add(resolved)
        return executed

    # -- records --------------------------------------------------------------------
    def add_report(self, item_type: str | None, modules: tuple[str, ...], report: Any) -> None:
        record = self.records.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "type": item_type,
                "modules": list(modules),
                "outcome": "passed",
                "duration": 0.0,
                "worker": self.worker,
                # evidence for the completion report that every test ran as PRECOG_ENV=test
                "precog_env": os.environ.get("PRECOG_ENV"),
            },
        )
        record["duration"] += float(getattr(report, "duration", 0.0))
        outcome = report_outcome(report)
        if _SEVERITY[outcome] > _SEVERITY[record["outcome"]]:
            record["outcome"] = outcome

    def write(self) -> None:
        executed = self._executed_files_by_context()
        out = self.directory / f"records-{self.worker}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        with out.open("w", encoding="utf-8") as handle:
            for record in self.records.values():
                ran = executed.get(record["nodeid"], set())
                record["executed_modules"] = sorted(
                    name for name in record["modules"] if self.module_files.get(name, set()) & ran
                )
                handle.write(json.dumps(record, sort_keys=True) + "\n")


_SEVERITY = {"passed": 0, "xpassed": 1, "skipped": 2, "xfailed": 3, "failed": 4, "error": 5}


def report_outcome(report: Any) -> str:
    """One word for a phase report: passed, failed, error, skipped, xfailed, xpassed."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    if hasattr(report, "wasxfail"):
        return "xpassed"
    return "passed"


class SkipGovernance:
    """Fails the session for skips/xfails without an active approval."""

    def __init__(self) -> None:
        self.approvals = load_approvals()
        self.today = dt.date.today()
        self.violations: dict[str, str] = {}

    def check(self, report: Any) -> None:
        outcome = report_outcome(report)
        if outcome not in {"skipped", "xfailed", "xpassed"}:
            return
        problem = approval_problem(report.nodeid, self.approvals, self.today)
        if problem is not None:
            self.violations[report.nodeid] = f"{outcome}, {problem}"


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


class GatePlugin:
    """Hooks of one pytest process: recording (where tests run) and governance (where
    reports are collected: the single process, or the xdist controller)."""

    def __init__(self, recorder: GateRecorder | None, governance: SkipGovernance | None) -> None:
        self.recorder = recorder
        self.governance = governance
        self.items: dict[str, pytest.Item] = {}

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if self.recorder is None:
            return (yield)
        self.recorder.switch_context(item.nodeid)
        try:
            return (yield)
        finally:
            self.recorder.switch_context("")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.items = {item.nodeid: item for item in items}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.governance is not None:
            self.governance.check(report)
        if self.recorder is not None:
            item = self.items.get(report.nodeid)
            item_type = item.stash.get(TYPE_KEY, None) if item is not None else None
            modules = declared_modules(item) if item is not None else ()
            self.recorder.add_report(item_type, modules, report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.recorder is not None:
            self.recorder.write()
        if self.governance is not None and self.governance.violations and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.governance is None or not self.governance.violations:
            return
        terminalreporter.section("unapproved skips / xfails", sep="=", red=True, bold=True)
        for nodeid, problem in sorted(self.governance.violations.items()):
            terminalreporter.write_line(f"{nodeid}: {problem}")
        terminalreporter.write_line(
            "Fix the test, or add an approval (id, reason, issue, expires) to "
            "tests/skip_approvals.toml."
        )


def pytest_configure(config: pytest.Config) -> None:
    governance = None if hasattr(config, "workerinput") else SkipGovernance()
    recorder = None
    if not (_is_xdist_controller(config) or config.option.collectonly):
        recorder = GateRecorder(record_dir(config), load_modules())
        recorder.start()
        config.stash[RECORDER_KEY] = recorder
    config.pluginmanager.register(GatePlugin(recorder, governance), "precog-gate")


def current_recorder(config: pytest.Config) -> GateRecorder | None:
    """The recorder of this process (None on an xdist controller)."""
    return config.stash.get(RECORDER_KEY, None)
