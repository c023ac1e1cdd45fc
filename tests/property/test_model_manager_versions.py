"""model_manager invariants over generated inputs.

- Version order is a total order that agrees with semantic versioning: compared with
  `packaging.version.Version` (an independent implementation) on every generated pair, and
  text -> version -> text is the canonical form.
- The database orders versions the same way (`list`, `latest`).
- A config round-trips exactly through the real database: every Decimal digit and every
  number's type come back as validated.
- The lifecycle, driven by a rule-based state machine against the real database, matches a
  plain model and never has two active versions of a name.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from packaging.version import Version

from precog.analytics.model_manager import (
    TRANSITIONS,
    DuplicateVersionError,
    IllegalTransitionError,
    ModelManager,
    ModelNotFoundError,
    ModelSpec,
    ModelVersion,
    canonical_version,
    validate_config,
)
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings

pytestmark = pytest.mark.module("model_manager")

part = st.integers(min_value=0, max_value=999_999_999)
small_part = st.integers(min_value=0, max_value=12)  # many ties and near-ties
version_parts = st.lists(st.one_of(part, small_part), min_size=1, max_size=3)


def _text(parts: list[int]) -> str:
    return ".".join(str(p) for p in parts)


def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


@given(version_parts, version_parts)
def test_version_order_is_total_and_agrees_with_semver(a: list[int], b: list[int]) -> None:
    va, vb = ModelVersion.parse(_text(a)), ModelVersion.parse(_text(b))
    assert _sign(va, vb) == _sign(Version(_text(a)), Version(_text(b)))
    assert [va < vb, va == vb, va > vb].count(True) == 1  # exactly one holds
    assert (va == vb) == (str(va) == str(vb))  # equal versions have one canonical text
    assert ModelVersion.parse(str(va)) == va
    assert str(va).count(".") == 2


@given(version_parts, version_parts, version_parts)
def test_version_order_is_transitive(a: list[int], b: list[int], c: list[int]) -> None:
    x, y, z = sorted(ModelVersion.parse(_text(p)) for p in (a, b, c))
    assert x <= y <= z
    assert x <= z


digits = st.integers(min_value=0, max_value=10**30)
decimals = st.builds(
    lambda sign, value, places: Decimal(f"{'-' if sign else ''}{value}E-{places}"),
    st.booleans(),
    digits,
    st.integers(min_value=0, max_value=40),
)
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40), decimals, text
)
configs = st.dictionaries(
    text,
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=6,
)


def _exactly(a: Any, b: Any) -> bool:
    """Equal in value, type and (for Decimal) every digit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exactly(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_exactly, a, b))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


def _numerically_equal(original: Any, canonical: Any) -> bool:
    if isinstance(original, dict):
        return all(_numerically_equal(original[k], canonical[k]) for k in original)
    if isinstance(original, list | tuple):
        return all(map(_numerically_equal, original, canonical))
    return bool(original == canonical)


class _Session:
    """A manager on its own event loop, so Hypothesis can drive it from a sync test."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database(url, env=Environment.TEST, description="property",
                           settings=PoolSettings(min_size=1, max_size=2, timeout=10))  # fmt: skip
        self.loop.run_until_complete(self.db.start())
        self.manager = ModelManager(self.db)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.run_until_complete(self.db.close())
        self.loop.close()


@pytest.fixture
def session(db_url: str) -> Iterator[_Session]:
    s = _Session(db_url)
    yield s
    s.close()


def test_config_round_trips_exactly_through_the_database(session: _Session) -> None:
    counter = itertools.count()

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(configs)
    def check(config: dict[str, Any]) -> None:
        canonical = validate_config(config)
        assert _numerically_equal(config, canonical)
        assert _exactly(validate_config(canonical), canonical)  # canonical is a fixed point
        version = f"1.0.{next(counter)}"
        created = session.run(session.manager.create("prop", version, "elo", config))
        assert _exactly(created.config, canonical)
        stored = session.run(session.manager.get(created.model_id))
        assert _exactly(stored.config, canonical)

    check()


def test_the_database_orders_versions_like_model_version(session: _Session) -> None:
    counter = itertools.count()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(version_parts, min_size=1, max_size=15))
    def check(versions: list[list[int]]) -> None:
        name = f"order-{next(counter)}"
        # One spelling per version ("1.2" and "1.2.0" are the same version), in given order.
        texts = {ModelVersion.parse(_text(v)): _text(v) for v in versions}
        session.run(
            session.manager.create_many([ModelSpec(name, t, "elo", {}) for t in texts.values()])
        )
        unique = sorted(texts)
        listed = session.run(session.manager.list(name=name))
        assert [m.version for m in listed] == [str(v) for v in unique]
        latest = session.run(session.manager.latest(name))
        assert latest.version == str(unique[-1])

    check()


def test_lifecycle_matches_a_model_for_random_step_sequences(session: _Session) -> None:
    """Random create/test/activate/deprecate sequences against the real database: every
    step is accepted exactly when the lifecycle table allows it, the stored statuses equal a
    plain model's, and no name ever has two active versions."""
    examples = itertools.count()
    versions = ["1.0", "1.1", "2.0"]
    steps = {"testing": "start_testing", "active": "activate", "deprecated": "deprecate"}

    class LifecycleMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            example = next(examples)  # names of its own: earlier examples' rows stay apart
            self.names = {"a": f"a-{example}", "b": f"b-{example}"}
            self.model: dict[tuple[str, str], str] = {}

        @rule(which=st.sampled_from(["a", "b"]), version=st.sampled_from(versions))
        def create(self, which: str, version: str) -> None:
            name = self.names[which]
            key = (name, canonical_version(version))
            call = session.manager.create(name, version, "elo", {"v": version})
            if key in self.model:
                with pytest.raises(DuplicateVersionError):
                    session.run(call)
            else:
                assert session.run(call).status == "draft"
                self.model[key] = "draft"

        @rule(
            which=st.sampled_from(["a", "b"]),
            version=st.sampled_from(versions),
            to=st.sampled_from(sorted(steps)),
        )
        def move(self, which: str, version: str, to: str) -> None:
            name = self.names[which]
            key = (name, canonical_version(version))
            call = getattr(session.manager, steps[to])(name, version)
            if key not in self.model:
                with pytest.raises(ModelNotFoundError):
                    session.run(call)
            elif to not in TRANSITIONS[self.model[key]]:
                with pytest.raises(IllegalTransitionError):
                    session.run(call)
            else:
                assert session.run(call).status == to
                if to == "active":  # the version it replaces
                    for other, status in self.model.items():
                        if other[0] == name and status == "active":
                            self.model[other] = "deprecated"
                self.model[key] = to

        @invariant()
        def stored_statuses_match_the_model(self) -> None:
            rows = [m for m in session.run(session.manager.list()) if m.name in self.names.values()]
            assert {(m.name, m.version): m.status for m in rows} == self.model
            for name in self.names.values():
                assert [m.status for m in rows if m.name == name].count("active") <= 1

    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
