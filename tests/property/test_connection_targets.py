"""connection, generated inputs: the guard on any database name, path confinement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precog.config.environment import DatabaseTarget, Environment, is_test_database
from precog.database.connection import resolve_conninfo, resolve_inside
from precog.database.errors import PathOutsideAllowedDirError
from precog.errors import ConfigError, EnvironmentSafetyError

pytestmark = pytest.mark.module("connection")

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


@given(dbname=names, env=st.sampled_from(list(Environment)))
def test_guard_accepts_exactly_the_allowed_databases(dbname: str, env: Environment) -> None:
    target = DatabaseTarget(url=f"postgresql://u:pw@h/{dbname}", dbname=dbname, embedded_home=None)
    allowed = is_test_database(dbname) == (env is Environment.TEST)
    if allowed:
        assert resolve_conninfo(target, env) == target.url
    else:
        with pytest.raises(EnvironmentSafetyError):
            resolve_conninfo(target, env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("confine")
    allowed = root / "seeds"
    (allowed / "a" / "b").mkdir(parents=True)
    (root / "outside").mkdir()
    for directory in (allowed, allowed / "a", allowed / "a" / "b", root, root / "outside"):
        (directory / "f.sql").write_text("SELECT 1;")
    os.symlink(root / "outside", allowed / "out")
    os.symlink(allowed / "a", allowed / "in")
    return allowed


parts = st.lists(st.sampled_from(["a", "b", "..", ".", "out", "in", "f.sql"]), max_size=6)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(components=parts, absolute=st.booleans())
def test_resolved_paths_never_leave_the_allowed_directory(
    tree: Path, components: list[str], absolute: bool
) -> None:
    path = Path(*components, "f.sql")
    if absolute:
        path = tree / path
    root = tree.resolve()
    try:
        resolved = resolve_inside(tree, path)
    except PathOutsideAllowedDirError:
        escapes = ".." in path.parts or not (tree / path).resolve().is_relative_to(root)
        assert escapes
    except ConfigError:
        assert not (tree / path).resolve().is_file()
    else:
        assert resolved.is_relative_to(root)
        assert ".." not in path.parts
        assert resolved.is_file()
