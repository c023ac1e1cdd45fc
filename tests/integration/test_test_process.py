"""The test process itself: the CI workflow lints clean and runs the one entry point on
every platform, and the pre-push hook stops a push whose tests fail.

These tests prove the project's tooling, not one of the eleven modules, so they declare none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def actionlint() -> str:
    name = "actionlint.exe" if os.name == "nt" else "actionlint"
    found = Path(sys.executable).parent / name
    assert found.exists(), f"{found} missing: `pip install -e .[dev]` installs actionlint"
    return str(found)


def test_the_workflow_passes_actionlint() -> None:
    result = subprocess.run(
        [actionlint(), str(WORKFLOW)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ matrix.missing }}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [actionlint(), str(broken)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "matrix" in result.stdout


def test_every_cell_runs_the_one_entry_point_on_linux_and_windows() -> None:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    for job in jobs.values():
        assert "continue-on-error" not in job
        assert all("continue-on-error" not in step for step in job["steps"])
    matrix = jobs["test"]["strategy"]["matrix"]
    assert jobs["test"]["strategy"]["fail-fast"] is False
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest"}
    assert {"3.12", "3.13", "3.14"} <= set(matrix["python-version"])
    for name in ("test", "external-postgres"):
        runs = [step.get("run", "") for step in jobs[name]["steps"]]
        assert "python scripts/run_tests.py" in runs, name
        assert jobs[name]["env"]["PRECOG_ENV"] == "test"
    assert jobs["external-postgres"]["env"]["DATABASE_URL"].endswith("_test")
    lint = " ".join(step.get("run", "") for step in jobs["lint"]["steps"])
    assert "mypy --strict src" in lint
    assert "ruff check" in lint


# ------------------------------------------------------------------ the pre-push hook


class HookedClone:
    """A clone with the real hook installed, whose `make test` passes or fails on demand
    and leaves a marker file when it ran; its origin is a bare repository."""

    def __init__(self, root: Path) -> None:
        self.origin = root / "origin.git"
        self.clone = root / "clone"
        self.git("init", "--bare", "--initial-branch=main", str(self.origin), cwd=root)
        self.git("clone", str(self.origin), str(self.clone), cwd=root)
        (self.clone / "scripts").mkdir()
        for name in ("pre_push.py", "install_hooks"):
            shutil.copy(REPO / "scripts" / name, self.clone / "scripts" / name)
        # `make test` and the entry point it calls both record the run and obey `verdict`.
        (self.clone / "scripts" / "run_tests.py").write_text(
            textwrap.dedent(
                """
                import os, pathlib, sys
                root = pathlib.Path(__file__).resolve().parents[1]
                (root / "tests-ran").write_text(os.environ.get("PRECOG_ENV", "unset"))
                sys.exit(int((root / "verdict").read_text()))
                """
            ),
            encoding="utf-8",
        )
        python = sys.executable.replace("\\", "/")
        (self.clone / "Makefile").write_text(
            f"test:\n\t{python} scripts/run_tests.py\n", encoding="utf-8"
        )
        (self.clone / ".gitignore").write_text("tests-ran\nverdict\n", encoding="utf-8")
        (self.clone / "docs").mkdir()
        (self.clone / "docs" / "guide.md").write_text("v1\n", encoding="utf-8")
        (self.clone / "app.py").write_text("x = 1\n", encoding="utf-8")
        self.commit("initial")
        installed = subprocess.run(
            ["sh", "scripts/install_hooks"],
            cwd=self.clone,
            check=False,
            capture_output=True,
            text=True,
        )
        assert installed.returncode == 0, installed.stderr
        self.verdict(0)
        assert self.push().returncode == 0
        assert self.ran()  # a new branch cannot be proven docs-only: the tests ran

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        return subprocess.run(
            ["git", *args],
            cwd=cwd or self.clone,
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        assert self.git("commit", "-q", "-m", message).returncode == 0

    def verdict(self, status: int) -> None:
        (self.clone / "verdict").write_text(str(status), encoding="utf-8")
        (self.clone / "tests-ran").unlink(missing_ok=True)

    def ran(self) -> bool:
        marker = self.clone / "tests-ran"
        if not marker.exists():
            return False
        assert marker.read_text(encoding="utf-8") == "test"  # the hook sets PRECOG_ENV=test
        return True

    def push(self) -> subprocess.CompletedProcess[str]:
        return self.git("push", "-q", "origin", "main")

    def remote_head(self) -> str:
        return self.git("rev-parse", "main", cwd=self.origin).stdout.strip()

    def local_head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.strip()


@pytest.fixture
def hooked(tmp_path: Path) -> HookedClone:
    return HookedClone(tmp_path)


def test_a_code_push_whose_tests_fail_is_stopped(hooked: HookedClone) -> None:
    before = hooked.remote_head()
    (hooked.clone / "app.py").write_text("x = 2\n", encoding="utf-8")
    hooked.commit("code change")
    hooked.verdict(1)
    result = hooked.push()
    assert result.returncode != 0
    assert hooked.ran()
    assert "push stopped" in result.stderr
    assert hooked.remote_head() == before


def test_a_code_push_whose_tests_pass_goes_through(hooked: HookedClone) -> None:
    (hooked.clone / "app.py").write_text("x = 3\n", encoding="utf-8")
    hooked.commit("code change")
    hooked.verdict(0)
    assert hooked.push().returncode == 0
    assert hooked.ran()
    assert hooked.remote_head() == hooked.local_head()


def test_a_documentation_only_push_skips_the_tests(hooked: HookedClone) -> None:
    (hooked.clone / "docs" / "guide.md").write_text("v2\n", encoding="utf-8")
    hooked.commit("docs only")
    hooked.verdict(1)  # would stop the push if the tests ran
    result = hooked.push()
    assert result.returncode == 0, result.stderr
    assert not hooked.ran()
    assert hooked.remote_head() == hooked.local_head()


def test_docs_and_code_together_run_the_tests(hooked: HookedClone) -> None:
    (hooked.clone / "docs" / "guide.md").write_text("v3\n", encoding="utf-8")
    (hooked.clone / "app.py").write_text("x = 4\n", encoding="utf-8")
    hooked.commit("docs and code")
    hooked.verdict(1)
    assert hooked.push().returncode != 0
    assert hooked.ran()
