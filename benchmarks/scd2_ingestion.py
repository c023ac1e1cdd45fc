"""Benchmark 1, SCD2 ingestion: a cycle of market snapshots through the batch upsert.

100,000 snapshots per cycle (20,000 with --quick), batches of 5,000, into the real schema on
a scratch embedded PostgreSQL. References in the same run: (a) the row-at-a-time path
(per snapshot read the current version; if changed, close it and insert the new one in a
transaction of its own), on a sample of the same workload; (b) a plain COPY of as many new
versions into the same table (the practical limit for writing versions).
Targets: 10% changed, snapshots/s >= 50x (a); all changed, versions/s >= 40% of (b).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from benchmarks import scd2_workload as w
from benchmarks.scratch_db import database, fresh_database
from benchmarks.suite import Options, Result

TITLE = "SCD2 ingestion: batch upsert vs row-at-a-time vs COPY"
NAME = "scd2_ingestion"


async def measure(url: str, markets: int, sample: int) -> list[Result]:
    async with database(url) as db, db.connection() as conn:
        prices = w.Prices(markets)
        await w.upsert_in_batches(conn, w.snapshots("KXB", prices, 0))
        naive_prices = w.Prices(sample)
        await w.upsert_in_batches(conn, w.snapshots("KXN", naive_prices, 0))
        await conn.execute("ANALYZE")

        prices.bump(10)
        snaps = w.snapshots("KXB", prices, 1)
        started = time.perf_counter()
        ten = await w.upsert_in_batches(conn, snaps)
        ten_seconds = time.perf_counter() - started
        assert ten.updated == markets // 10, ten

        naive_prices.bump(10)
        snaps = w.snapshots("KXN", naive_prices, 1)
        started = time.perf_counter()
        naive_written = await w.naive_upsert(conn, snaps)
        naive_seconds = time.perf_counter() - started
        assert naive_written == sample // 10, naive_written

        prices.bump(1)
        snaps = w.snapshots("KXB", prices, 2)
        started = time.perf_counter()
        every = await w.upsert_in_batches(conn, snaps)
        every_seconds = time.perf_counter() - started
        assert every.updated == markets, every

        keys = await w.market_keys(conn, "KXB")
        started = time.perf_counter()
        await w.copy_versions(conn, keys, w.T0 - timedelta(days=365))
        copy_seconds = time.perf_counter() - started

    ten_rate = markets / ten_seconds
    naive_rate = sample / naive_seconds
    every_rate = markets / every_seconds
    copy_rate = len(keys) / copy_seconds
    return [
        Result(NAME, f"batch upsert, {markets:,} snapshots, 10% changed", ten_rate,
               "snapshots/s", "row-at-a-time", naive_rate, ">= 50x",
               ten_rate >= 50 * naive_rate,
               {"seconds": ten_seconds, "naive_sample": sample, "naive_seconds": naive_seconds}),
        Result(NAME, f"batch upsert, {markets:,} snapshots, all changed", every_rate,
               "versions/s", "plain COPY", copy_rate, ">= 0.4x", every_rate >= 0.4 * copy_rate,
               {"seconds": every_seconds, "copy_seconds": copy_seconds}),
    ]  # fmt: skip


def run(options: Options) -> list[Result]:
    markets = options.size(quick=20_000, default=100_000, full=100_000)
    sample = options.size(quick=1_000, default=3_000)
    url = fresh_database("precog_bench")
    return asyncio.run(measure(url, markets, sample))
