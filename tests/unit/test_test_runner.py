"""The test runner's bookkeeping: which tests flipped between repeated runs, and which
phase each test type runs in. (Tooling, not one of the eleven modules: no module marker.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUNNER_PATH = Path(__file__).resolve().parents[2] / "scripts" / "run_tests.py"


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_tests", RUNNER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("run_tests", module)
    spec.loader.exec_module(module)
    return module


runner = load_runner()


def test_a_test_that_changed_outcome_between_runs_is_reported() -> None:
    runs = [
        {"a": "passed", "b": "passed", "c": "failed"},
        {"a": "passed", "b": "failed", "c": "failed"},
        {"a": "passed", "b": "passed"},
    ]
    assert runner.flips(runs) == {
        "b": ["passed", "failed", "passed"],
        "c": ["failed", "failed", "absent"],
    }


def test_identical_runs_have_no_flips() -> None:
    assert runner.flips([{"a": "passed"}, {"a": "passed"}]) == {}
    assert runner.flips([]) == {}


def test_every_type_runs_in_exactly_one_phase_and_performance_runs_alone() -> None:
    phases = dict(runner.phases(workers=2))
    shared, quiet = phases["shared"], phases["quiet"]
    types = ("unit", "property", "integration", "e2e", "stress", "race", "performance", "chaos")
    for test_type in types:
        where = [name for name, args in phases.items() if f"tests/{test_type}" in args]
        assert len(where) == 1, (test_type, where)
    assert "tests/performance" in quiet
    assert "no:xdist" in quiet
    assert shared[shared.index("-n") + 1] == "2"
