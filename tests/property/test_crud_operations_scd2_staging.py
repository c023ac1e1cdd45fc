"""The writer's two ways of staging a batch give the same history and counts.

Large batches reach the staging table by COPY, small ones by an `unnest` of arrays; the
plan and the writes after it are shared. Here every generated sequence of batches (random
keys, instants and states, duplicates and late observations included) is written twice,
once through a writer that COPYs every batch and once through one that never does, on two
key prefixes of the same table: the results of every batch and the histories must be
equal, and the histories must pass the structural checks of `read_histories`. Plus: two
COPY-staged batches inside one caller transaction (the staging tables are cleared between
them, not only at commit).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from precog.database import crud_operations as crud
from precog.database.scd2 import Observation, Scd2Writer, UpsertResult
from tests.property.test_crud_operations_scd2_machine import STATES, T0, read_histories, snapshot

pytestmark = pytest.mark.module("crud_operations")

NEVER = 10**9
Batch = list[tuple[str, int, tuple[str, str]]]
batches_strategy = st.lists(
    st.lists(
        st.tuples(st.sampled_from(["K0", "K1", "K2"]), st.integers(0, 40), st.sampled_from(STATES)),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=5,
)


async def event_id(conn: psycopg.AsyncConnection) -> int:
    await crud.upsert_markets(conn, [snapshot("EVENT-SEED", 0, STATES[0])])
    cur = await conn.execute("SELECT event_id FROM markets WHERE ticker = 'EVENT-SEED'")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


def observations(prefix: str, batch: Batch, event: int) -> list[Observation]:
    out = []
    for key, seconds, (status, bid) in batch:
        values: dict[str, object] = dict.fromkeys(crud.MARKETS.tracked_names)
        values.update(event_id=event, status=status, yes_bid=Decimal(bid))
        out.append(Observation((prefix + key,), values, T0 + timedelta(seconds=seconds)))
    return out


def test_copy_staging_and_array_staging_write_the_same_history(db_url: str) -> None:
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(psycopg.AsyncConnection.connect(db_url, autocommit=True))
    event = loop.run_until_complete(event_id(conn))
    by_copy = Scd2Writer(crud.MARKETS, copy_from=1)
    by_arrays = Scd2Writer(crud.MARKETS, copy_from=NEVER)
    examples = itertools.count()

    @given(batches=batches_strategy)
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def check(batches: list[Batch]) -> None:
        n = next(examples)
        for batch in batches:
            copied = loop.run_until_complete(
                by_copy.upsert(conn, observations(f"c{n}-", batch, event))
            )
            bound = loop.run_until_complete(
                by_arrays.upsert(conn, observations(f"a{n}-", batch, event))
            )
            assert copied == bound
        assert read_histories(db_url, f"c{n}-") == read_histories(db_url, f"a{n}-")

    try:
        check()
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


async def test_two_copy_staged_batches_in_one_transaction(db_url: str) -> None:
    writer = Scd2Writer(crud.MARKETS, copy_from=1)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        event = await event_id(conn)
        first: Batch = [(f"M{i}", 0, STATES[0]) for i in range(30)]
        second: Batch = [(f"M{i}", 10, STATES[i % 2]) for i in range(30)]
        async with conn.transaction():
            created = await writer.upsert(conn, observations("tx-", first, event))
            changed = await writer.upsert(conn, observations("tx-", second, event))
        assert created == UpsertResult(created=30)
        assert changed == UpsertResult(updated=15, unchanged=15)
        histories = read_histories(db_url, "tx-")
        assert sum(len(v) for v in histories.values()) == 45
