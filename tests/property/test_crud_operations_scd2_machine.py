"""SCD2 invariants under random upsert sequences, checked against the real database.

A Hypothesis rule-based state machine sends batches (new keys, changed and unchanged states,
duplicates, out-of-order observations) through `crud_operations.upsert_markets` and checks
after every step: one current row per key, validity periods without gap or overlap,
history == the sequence of distinct accepted states, counts == the model's counts.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from precog.config.environment import Environment
from precog.database import crud_operations as crud
from precog.database.connection import Database, PoolSettings
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.database import truncate_all

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 5, 1, tzinfo=UTC)
KEYS = ["K0", "K1", "K2", "K3"]
State = tuple[str, str]  # (status, yes_bid)
observation = st.tuples(
    st.sampled_from(KEYS),
    st.integers(min_value=0, max_value=40),
    st.sampled_from(["active", "closed"]),
    st.sampled_from(["0.1000", "0.2000", "0.3000"]),
)


def _model_apply(
    model: dict[str, list[tuple[int, State]]], batch: list[tuple[str, int, str, str]]
) -> UpsertResult:
    """The rule of scd2.py, written independently: what the database must end up with."""
    latest: dict[tuple[str, int], State] = {}
    for key, ts, status, bid in batch:
        latest[(key, ts)] = (status, bid)
    created = updated = unchanged = stale = 0
    unchanged += len(batch) - len(latest)
    for (key, ts), state in sorted(latest.items()):
        versions = model.setdefault(key, [])
        if not versions:
            versions.append((ts, state))
            created += 1
            continue
        current_ts, current_state = versions[-1]
        if ts < current_ts:
            stale += 1
        elif ts == current_ts or state == current_state:
            unchanged += 1
        else:
            versions.append((ts, state))
            updated += 1
    return UpsertResult(created, updated, unchanged, stale)


def test_scd2_invariants_hold_for_random_upsert_sequences(db_url: str) -> None:
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
            self.model: dict[str, list[tuple[int, State]]] = {}

        def teardown(self) -> None:
            self.loop.run_until_complete(self.db.close())
            self.loop.close()

        async def _upsert(self, snaps: list[MarketSnapshot]) -> UpsertResult:
            async with self.db.connection() as conn:
                return await crud.upsert_markets(conn, snaps)

        @rule(batch=st.lists(observation, min_size=1, max_size=8))
        def upsert(self, batch: list[tuple[str, int, str, str]]) -> None:
            snaps = [
                MarketSnapshot(
                    ticker=key,
                    event_ticker="EV",
                    series_ticker="SER",
                    status=status,
                    observed_at=T0 + timedelta(seconds=ts),
                    yes_bid=Decimal(bid),
                )
                for key, ts, status, bid in batch
            ]
            result = self.loop.run_until_complete(self._upsert(snaps))
            assert result == _model_apply(self.model, batch)

        @invariant()
        def history_matches_model(self) -> None:
            with psycopg.connect(db_url) as conn:
                rows = conn.execute(
                    "SELECT ticker, row_start_ts, row_end_ts, row_current_ind, status, yes_bid "
                    "FROM markets ORDER BY ticker, row_start_ts"
                ).fetchall()
            by_key: dict[str, list[tuple[datetime, datetime | None, bool, State]]] = {}
            for ticker, start, end, current, status, bid in rows:
                by_key.setdefault(ticker, []).append((start, end, current, (status, str(bid))))
            assert set(by_key) == set(self.model)
            for key, versions in by_key.items():
                assert [v[2] for v in versions].count(True) == 1, key
                assert versions[-1][2] is True
                assert versions[-1][1] is None
                for older, newer in itertools.pairwise(versions):
                    assert older[1] == newer[0], "gap or overlap between versions"
                    assert older[3] != newer[3], "a version without a change"
                expected = [(T0 + timedelta(seconds=ts), s) for ts, s in self.model[key]]
                assert [(v[0], v[3]) for v in versions] == expected

    run_state_machine_as_test(
        Scd2Machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
