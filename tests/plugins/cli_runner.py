"""Running Python and the `precog` command as real subprocesses, measured for the gate.

`precog_cli(*args, env=..., cwd=..., input=..., timeout=...)` runs `python -m precog ARGS`
with PRECOG_ENV=test and returns the CompletedProcess (text mode). `gate_python` gives the
command prefix for any other Python subprocess a test starts, so code the subprocess runs
is attributed to the test that started it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest

from tests.plugins.gate import current_recorder


class PrecogCli(Protocol):
    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        input: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def gate_python(request: pytest.FixtureRequest) -> list[str]:
    """`[python, ...]` prefix: append `-m module ...` or `script.py ...`."""
    recorder = current_recorder(request.config)
    if recorder is None:
        return [sys.executable]
    return recorder.subprocess_python(request.node.nodeid)


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a test subprocess gets: ours, PRECOG_ENV=test, plus `extra`."""
    env = dict(os.environ)
    env["PRECOG_ENV"] = "test"
    env.pop("COVERAGE_PROCESS_START", None)
    env["COLUMNS"] = "200"  # Rich tables must not wrap or truncate in captured output
    # The test session turns warnings into errors; deprecations in a subprocess count too.
    env.setdefault("PYTHONWARNINGS", "error::DeprecationWarning,error::PendingDeprecationWarning")
    env.update(extra or {})
    return env


@pytest.fixture
def precog_cli(gate_python: list[str]) -> PrecogCli:
    def run(
        *args: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        input: str | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*gate_python, "-m", "precog", *args],
            env=subprocess_env(env),
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


__all__ = ["PrecogCli", "gate_python", "precog_cli", "subprocess_env"]
