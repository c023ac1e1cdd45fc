"""The gate's own tests: run pytest and the audit on small temporary projects.

Each test builds a project with a copy of our plugins and audit script, one registered
module (`widget`, source in src/widget/core.py) and the test files of the scenario, runs
pytest in a subprocess, then the audit with --strict, and checks both verdicts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = (
    "__init__.py",
    "registry.py",
    "session_env.py",
    "test_types.py",
    "gate.py",
    "waiting.py",
    "cli_runner.py",
)


class GateProject:
    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.root = pytester.path
        self.records = self.root / "records"
        monkeypatch.setenv("PRECOG_GATE_DIR", str(self.records))
        (self.root / "tests" / "plugins").mkdir(parents=True)
        (self.root / "tests" / "__init__.py").write_text("")
        for name in PLUGINS:
            shutil.copy(REPO / "tests" / "plugins" / name, self.root / "tests" / "plugins" / name)
        (self.root / "scripts").mkdir()
        for script in ("audit_test_type_coverage.py", "completion_report.py"):
            shutil.copy(REPO / "scripts" / script, self.root / "scripts")
        self.write(
            "conftest.py",
            """
            pytest_plugins = [
                "tests.plugins.session_env", "tests.plugins.test_types", "tests.plugins.gate",
                "tests.plugins.waiting", "tests.plugins.cli_runner",
            ]
            """,
        )
        self.write(
            "pyproject.toml",
            """
            [tool.pytest.ini_options]
            addopts = ["--strict-markers", "--strict-config", "-p", "no:cacheprovider"]
            xfail_strict = true
            pythonpath = ["src"]
            filterwarnings = ["error"]
            asyncio_default_fixture_loop_scope = "function"
            """,
        )
        self.write("src/widget/__init__.py", "")
        self.write("src/widget/core.py", "def double(x):\n    return 2 * x\n")
        self.registry(["unit"])
        self.write("tests/skip_approvals.toml", "")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def registry(self, required: list[str], extra: str = "") -> None:
        self.write(
            "tests/modules.toml",
            f"""
            [modules.widget]
            paths = ["widget.core"]
            required = {required!r}
            {extra}
            """,
        )

    def run_pytest(self) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("tests")

    def run_audit(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "scripts/audit_test_type_coverage.py",
                "--strict",
                "--records",
                str(self.records),
            ],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


PASSING_UNIT = """
import pytest
from widget.core import double

pytestmark = pytest.mark.module("widget")

def test_double():
    assert double(2) == 4
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> GateProject:
    return GateProject(pytester, monkeypatch)


def test_complete_project_passes_the_gate(project: GateProject) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.run_pytest().assert_outcomes(passed=1)
    audit = project.run_audit()
    assert audit.returncode == 0, audit.stdout
    assert "gate: passed" in audit.stdout
    assert "1/1" in audit.stdout


def test_empty_cell_fails_the_gate(project: GateProject) -> None:
    project.registry(["unit", "integration"])
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.run_pytest().assert_outcomes(passed=1)
    audit = project.run_audit()
    assert audit.returncode == 1
    assert "module widget: no passing integration test" in audit.stdout


def test_declared_but_not_executed_module_fails_the_gate(project: GateProject) -> None:
    project.write(
        "tests/unit/test_widget.py",
        """
        import pytest
        pytestmark = pytest.mark.module("widget")

        def test_claims_widget_but_never_calls_it():
            assert callable(print)
        """,
    )
    project.run_pytest().assert_outcomes(passed=1)
    audit = project.run_audit()
    assert audit.returncode == 1
    assert "declares module 'widget' but did not execute its code" in audit.stdout


def test_code_run_in_a_measured_subprocess_counts(project: GateProject) -> None:
    project.write("run_widget.py", "from widget.core import double\nprint(double(21))\n")
    project.write(
        "tests/unit/test_widget.py",
        """
        import subprocess
        import pytest
        pytestmark = pytest.mark.module("widget")

        def test_widget_in_subprocess(gate_python):
            out = subprocess.run(
                [*gate_python, "run_widget.py"],
                capture_output=True, text=True, check=True, env={"PYTHONPATH": "src"},
            )
            assert out.stdout.strip() == "42"
        """,
    )
    project.run_pytest().assert_outcomes(passed=1)
    audit = project.run_audit()
    assert audit.returncode == 0, audit.stdout


# A test that skips itself, inside the temporary project (the gate must reject it).
SKIPPING_UNIT = """
import pytest

def test_skipped():
    pytest.skip("waiting for the vendor")
"""


def write_skip_project(project: GateProject, *, approval_expires: str | None) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.write("tests/unit/test_skipper.py", SKIPPING_UNIT)
    if approval_expires is not None:
        project.write(
            "tests/skip_approvals.toml",
            f"""
            [[approval]]
            id = "tests/unit/test_skipper.py::test_skipped"
            reason = "vendor sandbox down"
            issue = "https://example.invalid/issues/1"
            expires = {approval_expires}
            """,
        )


def test_unapproved_skip_fails_the_run_and_the_gate(project: GateProject) -> None:
    write_skip_project(project, approval_expires=None)
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*unapproved skips / xfails*", "*test_skipped: skipped, not listed*"])
    assert "test_skipped: skipped, not listed" in project.run_audit().stdout


def test_expired_approval_fails_the_run(project: GateProject) -> None:
    write_skip_project(project, approval_expires="2020-01-01")
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*test_skipped: skipped, approval expired on 2020-01-01*"])


def test_active_approval_lets_a_skip_through(project: GateProject) -> None:
    write_skip_project(project, approval_expires="2999-01-01")
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.OK
    assert project.run_audit().returncode == 0


def test_xfail_fails_the_run(project: GateProject) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.write(
        "tests/unit/test_known_bug.py",
        """
        import pytest

        @pytest.mark.xfail(reason="known bug")
        def test_known_bug():
            assert False
        """,
    )
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(["*test_known_bug: xfailed, not listed*"])
    assert project.run_audit().returncode == 1


def test_failed_test_fails_the_gate(project: GateProject) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.write("tests/unit/test_broken.py", "def test_broken():\n    assert 1 == 2\n")
    assert project.run_pytest().ret == pytest.ExitCode.TESTS_FAILED
    assert "test_broken: failed" in project.run_audit().stdout


def test_test_outside_type_directories_is_rejected(project: GateProject) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.write("tests/misc/test_stray.py", "def test_stray():\n    assert True\n")
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "tests outside the type directories" in run.stderr.str()
    assert "tests/misc/test_stray.py::test_stray" in run.stderr.str()


def test_unregistered_module_name_is_rejected(project: GateProject) -> None:
    project.write(
        "tests/unit/test_widget.py",
        "import pytest\npytestmark = pytest.mark.module('gadget')\n\ndef test_x():\n    pass\n",
    )
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown modules" in run.stderr.str()


def test_module_without_source_is_pending_not_failed(project: GateProject) -> None:
    project.registry(["unit"], extra='[modules.later]\npaths = ["later.core"]\n')
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    project.run_pytest().assert_outcomes(passed=1)
    audit = project.run_audit()
    assert audit.returncode == 0, audit.stdout
    assert "pending (no source yet)" in audit.stdout


def test_unit_tests_cannot_open_network_sockets(project: GateProject) -> None:
    project.write(
        "tests/unit/test_network.py",
        """
        import socket
        import warnings

        import pytest_socket


        def test_tcp_is_blocked():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pytest-socket also warns; the error is the point
                try:
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                except pytest_socket.SocketBlockedError:
                    return
            raise AssertionError("a unit test opened a TCP socket")


        def test_unix_sockets_stay_available_for_asyncio():
            a, b = socket.socketpair()
            a.close()
            b.close()
        """,
    )
    project.write(
        "tests/integration/test_network_allowed.py",
        """
        import socket

        def test_integration_tests_may_use_the_network():
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
        """,
    )
    project.run_pytest().assert_outcomes(passed=3)


def test_session_refuses_a_non_test_database(
    project: GateProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("tests/unit/test_widget.py", PASSING_UNIT)
    monkeypatch.setenv("DATABASE_URL", "postgresql://precog:secret@db.example/precog_prod")
    run = project.run_pytest()
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    err = run.stderr.str()
    assert "refusing to run tests" in err
    assert "precog_prod" in err
    assert "secret" not in err
