"""Benchmark 2, SCD2 at scale: the ingestion cycle as history grows to 1, 10, 100 versions/key.

10,000 markets (100,000 with --full, 2,000 with --quick); at each depth their history is
grown server-side (older, closed versions), the table analysed, and a cycle of one snapshot
per market, 10% changed, written through the batch upsert three times (median reported).
At 100 versions per key the table holds 1 million rows (10 million with --full).
Target: at 100 versions per key at least half the rate at 1 version per key. The query plan
of the writer's main statement at the deepest level is kept in the result's details
(EXPLAIN ANALYZE, rolled back).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks import scd2_workload as w
from benchmarks.scratch_db import database, fresh_database
from benchmarks.suite import Options, Result

TITLE = "SCD2 at scale: cycle rate at 1, 10 and 100 versions per market"
NAME = "scd2_scale"
DEPTHS = (1, 10, 100)
CYCLES = 3

_COPY_COLUMNS = ", ".join(("market_id", "ticker", *w.TRACKED))
# Older closed versions, one hour apart, before the first observed one (T0): no overlap.
_GROW = f"""
INSERT INTO markets ({_COPY_COLUMNS}, row_start_ts, row_end_ts, row_observed_ts,
    row_current_ind)
SELECT m.market_id, m.ticker, m.event_id, m.title, m.subtitle, m.status,
    (g %% 90 + 5) / 100.0, (g %% 90 + 6) / 100.0, m.no_bid, m.no_ask, m.last_price, m.volume,
    m.open_interest, m.open_time, m.close_time, m.result, m.settlement_value,
    %(t0)s - g * interval '1 hour', %(t0)s - g * interval '1 hour' + interval '30 minutes',
    %(t0)s - g * interval '1 hour', FALSE
FROM markets m CROSS JOIN generate_series(%(first)s::int, %(last)s::int) AS g
WHERE m.row_current_ind AND m.ticker LIKE 'KXS-%%'
"""  # noqa: S608 - constant column names


async def explain_plan(conn: Any, snaps: list[Any]) -> str:
    """EXPLAIN ANALYZE of the writer's statements for one batch (rolled back): the plan into
    its staging table, then the confirmations/closes and the inserts it decided."""
    from psycopg import sql

    from precog.database.crud_operations import MARKETS
    from precog.database.scd2 import Observation, Scd2Writer, prepare

    cur = await conn.execute("SELECT event_ticker, event_id FROM events")
    events = dict(await cur.fetchall())
    observations = [
        Observation(
            (s.ticker,),
            {**{n: getattr(s, n) for n in w.TRACKED if n != "event_id"},
             "event_id": events[s.event_ticker]},
            s.observed_at,
        )
        for s in snaps
    ]  # fmt: skip
    prepared, _ = prepare(MARKETS, observations)
    writer = Scd2Writer(MARKETS)
    width = len(MARKETS.business_key) + len(MARKETS.tracked)
    inputs: list[list[Any]] = [[p.at for p in prepared]]
    inputs += [[p.params[i] for p in prepared] for i in range(width)]
    explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ")
    out = []
    # The writer's own statements (private attributes: this is a diagnostic).
    async with conn.transaction(force_rollback=True):
        await conn.execute(writer._create_staging)
        await conn.execute(writer._fill_stage, inputs)
        await conn.execute(writer._lock_staged_keys)
        for title, statement in (
            ("plan", writer._plan),
            ("confirm/close (shrink)", writer._shrink),
            ("insert new versions", writer._insert),
        ):
            cur = await conn.execute(explain + statement)
            out.append(f"-- {title}")
            out += [str(row[0]) for row in await cur.fetchall()]
    return "\n".join(out)


async def measure(url: str, markets: int) -> list[Result]:
    rates: dict[int, float] = {}
    rows_at: dict[int, int] = {}
    plan = ""
    step = 0
    async with database(url) as db, db.connection() as conn:
        prices = w.Prices(markets)
        await w.upsert_in_batches(conn, w.snapshots("KXS", prices, step))
        depth = 1
        for target in DEPTHS:
            if target > depth:
                await conn.execute(_GROW, {"t0": w.T0, "first": depth, "last": target - 1})
                await conn.commit()
                depth = target
            await conn.execute("ANALYZE markets")
            cur = await conn.execute("SELECT count(*) FROM markets")
            rows_at[target] = int((await cur.fetchone())[0])
            seconds = []
            for _ in range(CYCLES):
                step += 1
                prices.bump(10)
                snaps = w.snapshots("KXS", prices, step)
                started = time.perf_counter()
                result = await w.upsert_in_batches(conn, snaps)
                seconds.append(time.perf_counter() - started)
                assert result.updated == len(range(0, markets, 10)), result
            rates[target] = markets / statistics.median(seconds)
        step += 1
        prices.bump(10)
        plan = await explain_plan(conn, w.snapshots("KXS", prices, step)[: w.BATCH])
    base = rates[DEPTHS[0]]
    results = []
    for d in DEPTHS:
        deepest = d == DEPTHS[-1]
        results.append(
            Result(NAME, f"{d} version(s)/market, {rows_at[d]:,} rows", rates[d],
                   "snapshots/s", "1 version/market", base,
                   ">= 0.5x" if deepest else "", (rates[d] >= 0.5 * base) if deepest else None,
                   {"rows": rows_at[d], "plan": plan} if deepest else {"rows": rows_at[d]})
        )  # fmt: skip
    print("plans of the writer's statements at the deepest level, one batch of 5,000:")
    print(plan)
    return results


def run(options: Options) -> list[Result]:
    markets = options.size(quick=2_000, default=10_000, full=100_000)
    url = fresh_database("precog_bench")
    return asyncio.run(measure(url, markets))
