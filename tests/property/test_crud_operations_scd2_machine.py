"""SCD2 history as a function of the observation set, checked against the real database.

The oracle, written independently of scd2.py's SQL:
- `replay(observations)`: the history of ONE ORDERED REPLAY: observations sorted by instant,
  a new version whenever the values change; per version (start, end, confirmed, state),
  where `confirmed` is the instant of its last observation;
- `AcceptedModel`: the late-observation rule stated on observation sets. It keeps every
  accepted observation; a batch's observation is stale when, against the history at the
  start of the batch, it lies inside a version's confirmed span [start, confirmed] with
  other values (equal values there change nothing); otherwise it is accepted. History is
  `replay(accepted)`. No gap logic, no window functions: a different route to the answer.

What each test compares (exactly, tuple for tuple: start, end, confirmed, status, yes_bid):
- the stateful machine: after every batch of random keys/instants/states (duplicates and
  out-of-order observations included), the database history and the batch counts equal
  `AcceptedModel`'s;
- `test_any_batching_and_interleaving_equals_one_ordered_replay`: one observation set
  (several keys, distinct instants per key rendered in several time zones across a DST
  fold) written three ways: (a) in time order, any batching: no stale, history ==
  replay(all); (b) in a random order and batching on one connection: history == the
  model's, current == the newest observation, and when the writer reported no stale
  observation, history == replay(all); (c) the same batches spread over three connections
  writing concurrently (commit order decided by the database): current == the newest
  observation always; history == replay(all) whenever the writer reported no stale
  observation; otherwise every version's start and confirmation are real observations of
  its state and the counts add up (the exception is the only case not compared exactly,
  because which observations were stale depends on the commit order).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from precog.config.environment import Environment
from precog.database import crud_operations as crud
from precog.database.connection import Database, PoolSettings
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.database import truncate_all

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2024, 11, 3, 5, 0, tzinfo=UTC)  # 01:00 EDT; New York's clocks fall back at 06:00Z
ZONES = [UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
State = tuple[str, str]  # (status, yes_bid)
STATES: list[State] = [("active", "0.1000"), ("active", "0.2000"), ("closed", "0.1000")]


@dataclass(frozen=True)
class Version:
    start: int
    end: int | None
    confirmed: int
    state: State


def replay(observations: Iterable[tuple[int, State]]) -> list[Version]:
    """The history of one ordered replay: a version per run of equal consecutive states."""
    versions: list[Version] = []
    for at, state in sorted(observations):
        if versions and versions[-1].state == state:
            last = versions[-1]
            versions[-1] = Version(last.start, None, at, state)
            continue
        if versions:
            last = versions[-1]
            versions[-1] = Version(last.start, at, last.confirmed, last.state)
        versions.append(Version(at, None, at, state))
    return versions


class AcceptedModel:
    """The late-observation rule on observation sets (see the module docstring)."""

    def __init__(self) -> None:
        self.accepted: dict[str, dict[int, State]] = {}

    def history(self, key: str) -> list[Version]:
        return replay(self.accepted.get(key, {}).items())

    def apply(self, batch: Sequence[tuple[str, int, State]]) -> UpsertResult:
        latest: dict[tuple[str, int], State] = {}
        for key, at, state in batch:
            latest[(key, at)] = state  # the last one given per key and instant
        total = UpsertResult(unchanged=len(batch) - len(latest))
        for key in sorted({k for k, _ in latest}):
            before = self.history(key)
            accepted = self.accepted.setdefault(key, {})
            stale = unchanged = 0
            for (k, at), state in latest.items():
                if k != key:
                    continue
                span = [v for v in before if v.start <= at <= v.confirmed]
                if span:
                    stale += span[0].state != state
                    unchanged += span[0].state == state
                else:
                    accepted[at] = state
            after = self.history(key)
            created = int(not before)
            updated = len(after) - len(before) - created
            placed = sum(1 for k, _ in latest if k == key) - stale - unchanged
            total += UpsertResult(created, updated, unchanged + placed - created - updated, stale)
        return total


def snapshot(
    ticker: str, at: int, state: State, zone: ZoneInfo | type[UTC] = UTC
) -> MarketSnapshot:
    instant = (T0 + timedelta(seconds=at)).astimezone(zone)  # type: ignore[arg-type]
    return MarketSnapshot(ticker=ticker, event_ticker="EV", series_ticker="SER",
                          status=state[0], observed_at=instant,
                          yes_bid=Decimal(state[1]))  # fmt: skip


def _seconds(value: datetime | None) -> int | None:
    return None if value is None else int((value - T0).total_seconds())


def read_histories(url: str, prefix: str) -> dict[str, list[Version]]:
    """Every version of the keys starting with `prefix`, checking the structural invariants."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ticker, row_start_ts, row_end_ts, row_observed_ts, row_current_ind, "
            "status, yes_bid FROM markets WHERE starts_with(ticker, %s) "
            "ORDER BY ticker, row_start_ts",
            (prefix,),
        ).fetchall()
    by_key: dict[str, list[Version]] = {}
    for ticker, start, end, observed, current, status, bid in rows:
        assert current == (end is None)
        version = Version(_seconds(start), _seconds(end), _seconds(observed), (status, str(bid)))  # type: ignore[arg-type]
        by_key.setdefault(ticker[len(prefix) :], []).append(version)
    for versions in by_key.values():
        assert [v.end for v in versions].count(None) == 1
        assert versions[-1].end is None
        for older, newer in itertools.pairwise(versions):
            assert older.end == newer.start, "gap or overlap between versions"
            assert older.state != newer.state, "a version without a change"
        for v in versions:
            assert v.start <= v.confirmed
            assert v.end is None or v.confirmed < v.end
    return by_key


def test_scd2_history_follows_the_late_observation_rule(db_url: str) -> None:
    keys = ["K0", "K1", "K2"]
    observation = st.tuples(
        st.sampled_from(keys), st.integers(min_value=0, max_value=40), st.sampled_from(STATES)
    )

    class Scd2Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            truncate_all(db_url)
            self.loop = asyncio.new_event_loop()
            self.db = Database(
                db_url, env=Environment.TEST, description="property",
                settings=PoolSettings(min_size=1, max_size=2, timeout=10),
            )  # fmt: skip
            self.loop.run_until_complete(self.db.start())
            self.model = AcceptedModel()

        def teardown(self) -> None:
            self.loop.run_until_complete(self.db.close())
            self.loop.close()

        async def _upsert(self, snaps: list[MarketSnapshot]) -> UpsertResult:
            async with self.db.connection() as conn:
                return await crud.upsert_markets(conn, snaps)

        @rule(batch=st.lists(observation, min_size=1, max_size=8))
        def upsert(self, batch: list[tuple[str, int, State]]) -> None:
            snaps = [snapshot(key, at, state) for key, at, state in batch]
            result = self.loop.run_until_complete(self._upsert(snaps))
            assert result == self.model.apply(batch)

        @invariant()
        def history_matches_model(self) -> None:
            stored = read_histories(db_url, "")
            assert set(stored) == {k for k, accepted in self.model.accepted.items() if accepted}
            for key, versions in stored.items():
                assert versions == self.model.history(key)

    run_state_machine_as_test(
        Scd2Machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


Obs = tuple[str, int, State, int]  # key, seconds after T0, state, zone index


@st.composite
def observation_sets(draw: st.DrawFn) -> list[Obs]:
    result: list[Obs] = []
    for key in ("K0", "K1"):
        # Minutes across the 06:00Z fold; distinct instants per key, so "newest" is exact.
        minutes = draw(st.lists(st.integers(0, 120), min_size=1, max_size=7, unique=True))
        result += [
            (key, m * 60, draw(st.sampled_from(STATES)), draw(st.integers(0, len(ZONES) - 1)))
            for m in minutes
        ]
    return result


def _batches(order: Sequence[Obs], cuts: Sequence[bool]) -> list[list[Obs]]:
    batches: list[list[Obs]] = [[]]
    for item, cut in zip(order, cuts, strict=True):
        if cut and batches[-1]:
            batches.append([])
        batches[-1].append(item)
    return batches


def test_any_batching_and_interleaving_equals_one_ordered_replay(db_url: str) -> None:
    loop = asyncio.new_event_loop()
    conns = [
        loop.run_until_complete(psycopg.AsyncConnection.connect(db_url, autocommit=True))
        for _ in range(3)
    ]
    examples = itertools.count()

    async def write(conn: psycopg.AsyncConnection, prefix: str, batch: list[Obs]) -> UpsertResult:
        snaps = [snapshot(prefix + k, at, s, ZONES[z]) for k, at, s, z in batch]
        return await crud.upsert_markets(conn, snaps)

    async def sequential(prefix: str, batches: list[list[Obs]]) -> UpsertResult:
        total = UpsertResult()
        for batch in batches:
            total += await write(conns[0], prefix, batch)
        return total

    async def concurrent(prefix: str, batches: list[list[Obs]], owners: list[int]) -> UpsertResult:
        async def one_connection(index: int) -> UpsertResult:
            total = UpsertResult()
            for batch, owner in zip(batches, owners, strict=True):
                if owner == index:
                    total += await write(conns[index], prefix, batch)
            return total

        async with asyncio.timeout(60):
            results = await asyncio.gather(*(one_connection(i) for i in range(len(conns))))
        return sum(results, UpsertResult())

    @given(data=st.data(), observations=observation_sets())
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(data: st.DataObject, observations: list[Obs]) -> None:
        n = next(examples)
        expected = {k: replay((at, s) for key, at, s, _ in observations if key == k)
                    for k in ("K0", "K1")}  # fmt: skip
        newest = {k: v[-1].state for k, v in expected.items()}
        cuts = data.draw(st.lists(st.booleans(), min_size=len(observations),
                                  max_size=len(observations)))  # fmt: skip
        in_time_order = sorted(observations, key=lambda o: (o[1], o[0]))
        order = data.draw(st.permutations(observations))
        batches = _batches(order, cuts)
        owners = data.draw(st.lists(st.integers(0, len(conns) - 1), min_size=len(batches),
                                    max_size=len(batches)))  # fmt: skip

        # (a) time order, any batching: exactly the ordered replay, never stale.
        ordered = loop.run_until_complete(sequential(f"a{n}-", _batches(in_time_order, cuts)))
        assert ordered.stale == 0
        assert read_histories(db_url, f"a{n}-") == expected

        # (b) any order and batching on one connection: exactly the model; the replay when
        # nothing was stale.
        result_b = loop.run_until_complete(sequential(f"b{n}-", batches))
        model = AcceptedModel()
        model_result = sum((model.apply([(k, at, s) for k, at, s, _ in b]) for b in batches),
                           UpsertResult())  # fmt: skip
        history_b = read_histories(db_url, f"b{n}-")
        assert result_b == model_result
        assert history_b == {k: model.history(k) for k in expected}
        assert {k: v[-1].state for k, v in history_b.items()} == newest
        event(f"one connection: stale {'none' if result_b.stale == 0 else 'some'}")
        if result_b.stale == 0:
            assert history_b == expected

        # (c) the same batches over three concurrent connections.
        result_c = loop.run_until_complete(concurrent(f"c{n}-", batches, owners))
        history_c = read_histories(db_url, f"c{n}-")
        assert {k: v[-1].state for k, v in history_c.items()} == newest
        assert result_c.created == 2
        assert result_c.written == sum(len(v) for v in history_c.values())
        assert result_c.created + result_c.updated + result_c.unchanged + result_c.stale == len(
            observations
        )
        event(f"three connections: stale {'none' if result_c.stale == 0 else 'some'}")
        if result_c.stale == 0:
            assert history_c == expected
        observed = {(k, at, s) for k, at, s, _ in observations}
        for key, versions in history_c.items():
            for v in versions:
                assert (key, v.start, v.state) in observed
                assert (key, v.confirmed, v.state) in observed

    try:
        check()
    finally:
        for conn in conns:
            loop.run_until_complete(conn.close())
        loop.close()
