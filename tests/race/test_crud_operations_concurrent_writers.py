"""Concurrent SCD2 writers on the same keys: no two current rows, no overlap, no lost update."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from precog.config.environment import Environment
from precog.database import crud_operations as crud
from precog.database.connection import Database, PoolSettings
from precog.database.records import MarketSnapshot, PositionSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 4, 1, tzinfo=UTC)
TICKERS = [f"KXRACE-{i:02d}" for i in range(40)]
WRITERS = 8
ROUNDS = 6


def _bid(writer: int, rnd: int, i: int) -> Decimal:
    return Decimal((writer * 7 + rnd * 3 + i) % 97 + 1) / 100


def _batch(writer: int, rnd: int) -> list[MarketSnapshot]:
    # Every writer has its own timestamps (no ties), so "the newest observation wins" is exact.
    at = T0 + timedelta(seconds=rnd * WRITERS + writer)
    order = TICKERS if writer % 2 else list(reversed(TICKERS))  # opposite key orders
    return [
        MarketSnapshot(ticker=t, event_ticker="KXRACE-EV", series_ticker="KXRACE",
                       status="active", observed_at=at, yes_bid=_bid(writer, rnd, TICKERS.index(t)))
        for t in order
    ]  # fmt: skip


async def test_concurrent_writers_on_the_same_keys(db_url: str) -> None:
    # Half the writers own a pool each (separate processes in real life), half share one.
    shared = Database(db_url, env=Environment.TEST, description="shared",
                      settings=PoolSettings(1, 4, 30))  # fmt: skip
    own = [
        Database(
            db_url, env=Environment.TEST, description=f"own-{w}", settings=PoolSettings(1, 1, 30)
        )
        for w in range(WRITERS // 2)
    ]
    for db in [shared, *own]:
        await db.start()
    start = asyncio.Event()

    async def writer(w: int) -> UpsertResult:
        db = own[w] if w < len(own) else shared
        total = UpsertResult()
        await start.wait()
        for rnd in range(ROUNDS):
            async with db.connection() as conn:
                total = total + await crud.upsert_markets(conn, _batch(w, rnd))
        return total

    try:
        async with asyncio.timeout(120):
            tasks = [asyncio.create_task(writer(w)) for w in range(WRITERS)]
            start.set()
            results = await asyncio.gather(*tasks)
    finally:
        for db in [shared, *own]:
            await db.close()

    total = sum(results, UpsertResult())
    assert total.created == len(TICKERS)  # exactly one writer created each key
    submitted = WRITERS * ROUNDS * len(TICKERS)
    assert total.created + total.updated + total.unchanged + total.stale == submitted

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT ticker, yes_bid, row_start_ts, row_end_ts, row_current_ind FROM markets "
            "ORDER BY ticker, row_start_ts"
        ).fetchall()
    assert len(rows) == total.created + total.updated  # every counted write is in the table
    by_ticker: dict[str, list[tuple[Decimal, datetime, datetime | None, bool]]] = {}
    for ticker, bid, start_ts, end_ts, current in rows:
        by_ticker.setdefault(ticker, []).append((bid, start_ts, end_ts, current))
    for i, ticker in enumerate(TICKERS):
        versions = by_ticker[ticker]
        assert [v[3] for v in versions].count(True) == 1
        for older, newer in itertools.pairwise(versions):
            assert older[2] == newer[1]  # no gap, no overlap
            assert older[0] != newer[0]  # a version only on change
        # Every stored version is exactly a submitted observation (state and time) ...
        for bid, start_ts, _, _ in versions:
            step = int((start_ts - T0).total_seconds())
            assert bid == _bid(step % WRITERS, step // WRITERS, i)
        # ... and the newest submitted observation is the current state (no lost update).
        last = ROUNDS * WRITERS - 1
        assert versions[-1][0] == _bid(last % WRITERS, last // WRITERS, i)


async def test_concurrent_position_writers_never_duplicate_current_rows(db_url: str) -> None:
    dbs = [
        Database(
            db_url, env=Environment.TEST, description=f"pos-{w}", settings=PoolSettings(1, 1, 30)
        )
        for w in range(6)
    ]
    for db in dbs:
        await db.start()
    start = asyncio.Event()

    async def writer(w: int) -> None:
        await start.wait()
        for rnd in range(10):
            snap = PositionSnapshot("KXRACE-00", "yes", Decimal(w * 10 + rnd),
                                    T0 + timedelta(milliseconds=rnd * 6 + w))  # fmt: skip
            async with dbs[w].connection() as conn:
                await crud.upsert_positions(conn, [snap])

    try:
        async with asyncio.timeout(60):
            tasks = [asyncio.create_task(writer(w)) for w in range(len(dbs))]
            start.set()
            await asyncio.gather(*tasks)
    finally:
        for db in dbs:
            await db.close()
    with psycopg.connect(db_url) as conn:
        current = conn.execute("SELECT quantity FROM positions WHERE row_current_ind").fetchall()
    assert current == [(Decimal("59.00"),)]  # writer 5, round 9: the newest observation


async def test_a_writer_locks_its_keys_in_key_id_order(db_url: str) -> None:
    """The global lock order is key id, not the order the keys reach the lock query.

    B gets the lower key id but sorts after A. While another transaction holds B, a writer
    of [A, B] must wait on B holding nothing (key-id order: B first), so A stays free; a
    writer locking in arrival order would already hold A, the half-way state that lets two
    writers with different orders deadlock.
    """
    at = T0 + timedelta(days=1)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as setup:
        for ticker in ("KXLOCK-B", "KXLOCK-A"):  # B first: the lower key id
            await crud.upsert_positions(setup, [PositionSnapshot(ticker, "yes", Decimal(1), at)])
    holder = await psycopg.AsyncConnection.connect(db_url)
    writer_conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    probe = await psycopg.AsyncConnection.connect(db_url)
    writer: asyncio.Task[UpsertResult] | None = None
    try:
        await holder.execute(
            "SELECT 1 FROM positions_keys WHERE ticker = 'KXLOCK-B' FOR NO KEY UPDATE"
        )
        snaps = [PositionSnapshot(t, "yes", Decimal(2), at + timedelta(seconds=1))
                 for t in ("KXLOCK-A", "KXLOCK-B")]  # fmt: skip
        writer = asyncio.create_task(crud.upsert_positions(writer_conn, snaps))
        pid = writer_conn.info.backend_pid

        async def writer_waits_on_a_lock() -> bool:
            cur = await probe.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            row = await cur.fetchone()
            await probe.rollback()
            return row is not None and row[0] == "Lock"

        await eventually_async(writer_waits_on_a_lock, timeout=30, what="writer blocked on B")
        # A is not locked by the blocked writer: taking it without waiting must succeed.
        try:
            await probe.execute(
                "SELECT 1 FROM positions_keys WHERE ticker = 'KXLOCK-A' FOR NO KEY UPDATE NOWAIT"
            )
        except psycopg.errors.LockNotAvailable:
            pytest.fail("a writer blocked on B already holds A: keys not locked in key-id order")
        await probe.rollback()
        await holder.rollback()
        async with asyncio.timeout(30):
            result = await writer
        assert result == UpsertResult(updated=2)
    finally:
        if writer is not None and not writer.done():
            writer.cancel()
        for conn in (holder, writer_conn, probe):
            await conn.close()


async def test_a_deadlocked_writer_retries_its_batch_and_succeeds(db_url: str) -> None:
    """A deadlock with a caller's own transaction aborts the writer's batch; it is retried.

    The other transaction holds key A, the writer inserts the new key X and waits for A,
    then the other transaction inserts X too: a cycle. The writer's shorter deadlock_timeout
    makes PostgreSQL abort the writer; its retry waits for the other commit and succeeds.
    """
    at = T0 + timedelta(days=2)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as setup:
        await crud.upsert_positions(setup, [PositionSnapshot("KXDEAD-A", "yes", Decimal(1), at)])
        kalshi = await crud.platform_id(setup, "kalshi")
    other = await psycopg.AsyncConnection.connect(db_url)
    writer_conn = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    probe = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    writer: asyncio.Task[UpsertResult] | None = None
    blocked_insert: asyncio.Task[object] | None = None
    try:
        await other.execute("SET deadlock_timeout = '60s'")  # never the victim
        await writer_conn.execute("SET deadlock_timeout = '2s'")
        await other.execute(
            "SELECT 1 FROM positions_keys WHERE ticker = 'KXDEAD-A' FOR NO KEY UPDATE"
        )
        later = at + timedelta(seconds=1)
        snaps = [PositionSnapshot("KXDEAD-A", "yes", Decimal(2), later),
                 PositionSnapshot("KXDEAD-X", "yes", Decimal(3), later)]  # fmt: skip
        writer = asyncio.create_task(crud.upsert_positions(writer_conn, snaps))
        pid = writer_conn.info.backend_pid

        async def writer_waits_on_a_lock() -> bool:
            cur = await probe.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            row = await cur.fetchone()
            return row is not None and row[0] == "Lock"

        await eventually_async(writer_waits_on_a_lock, timeout=30, what="writer blocked on A")
        blocked_insert = asyncio.create_task(
            other.execute(
                "INSERT INTO positions_keys (platform_id, ticker, side) "
                "VALUES (%s, 'KXDEAD-X', 'yes')",
                (kalshi,),
            )
        )
        async with asyncio.timeout(30):
            await blocked_insert  # returns once the writer, the deadlock victim, rolled back
        await other.commit()
        async with asyncio.timeout(30):
            result = await writer
        assert result == UpsertResult(created=1, updated=1)
        cur = await probe.execute(
            "SELECT ticker, quantity FROM positions WHERE row_current_ind "
            "AND ticker LIKE 'KXDEAD-%%' ORDER BY ticker"
        )
        assert await cur.fetchall() == [
            ("KXDEAD-A", Decimal("2.00")),
            ("KXDEAD-X", Decimal("3.00")),
        ]
    finally:
        for task in (writer, blocked_insert):
            if task is not None and not task.done():
                task.cancel()
        for conn in (other, writer_conn, probe):
            await conn.close()
