"""Test types come from directories: tests/<type>/... gets the <type> marker.

A test file anywhere else is rejected at collection, and so is a `module(...)` marker that
names a module not registered in tests/modules.toml. Unit tests run with network sockets
blocked (AF_UNIX stays allowed: asyncio's self-pipe needs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.registry import TEST_TYPES, load_modules

_TYPE_MEANINGS = {
    "unit": "one unit's logic; no network, no database, no sleeping",
    "property": "invariants over generated inputs (Hypothesis)",
    "integration": "components working with real dependencies",
    "e2e": "a user's workflow through the precog command",
    "stress": "behaviour beyond normal load",
    "race": "correctness under concurrent interleavings",
    "performance": "speed relative to a reference measured in the same run",
    "chaos": "recovery from real faults",
}


def pytest_configure(config: pytest.Config) -> None:
    for name in TEST_TYPES:
        config.addinivalue_line(
            "markers", f"{name}: {_TYPE_MEANINGS[name]} (set from the directory)"
        )
    config.addinivalue_line(
        "markers", "module(*names): registered module(s) of tests/modules.toml this test proves"
    )


def type_of_test_file(path: Path, rootdir: Path) -> str | None:
    """The test type a file belongs to, from its directory, or None if it has none."""
    try:
        parts = path.resolve().relative_to(rootdir.resolve()).parts
    except ValueError:
        return None
    if len(parts) >= 3 and parts[0] == "tests" and parts[1] in TEST_TYPES:
        return parts[1]
    return None


def declared_modules(item: pytest.Item) -> tuple[str, ...]:
    """Module names declared with pytest.mark.module(...) on the test, class or file."""
    names: list[str] = []
    for mark in item.iter_markers("module"):
        names.extend(str(arg) for arg in mark.args)
    return tuple(dict.fromkeys(names))


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    rootdir = Path(str(config.rootpath))
    registered = set(load_modules())
    outside: list[str] = []
    unknown: list[str] = []
    for item in items:
        test_type = type_of_test_file(Path(str(item.path)), rootdir)
        if test_type is None:
            outside.append(item.nodeid)
            continue
        item.add_marker(getattr(pytest.mark, test_type))
        item.stash[TYPE_KEY] = test_type
        bad = [name for name in declared_modules(item) if name not in registered]
        if bad:
            unknown.append(f"{item.nodeid} declares {', '.join(bad)}")
    problems = []
    if outside:
        problems.append(
            "tests outside the type directories (tests/<"
            + "|".join(TEST_TYPES)
            + ">/): "
            + ", ".join(outside)
        )
    if unknown:
        problems.append("unknown modules (not in tests/modules.toml): " + "; ".join(unknown))
    if problems:
        raise pytest.UsageError("\n".join(problems))


TYPE_KEY = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _block_network_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.stash.get(TYPE_KEY, None) != "unit":
        yield
        return
    import pytest_socket

    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        pytest_socket.enable_socket()
