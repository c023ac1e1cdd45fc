"""SCD2 write throughput: the batched writer vs a naive row-at-a-time path vs plain COPY.

    python -m benchmarks.scd2_throughput [--markets 5000] [--rounds 5] [--batch 1000]

Runs against a scratch embedded PostgreSQL in build/bench-postgres (started and stopped
here; nothing else is touched), migrated with the real migrations. Every measured row is a
new market version written with all constraints on (partial unique index, btree_gist
exclusion, FKs, CHECKs). Prints rows/s per method and the ratios, all from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

T0 = datetime(2026, 6, 1, tzinfo=UTC)
BENCH_DB = "precog_bench"


def snapshots(prefix: str, count: int, step: int) -> list[Any]:
    from precog.database.records import MarketSnapshot

    return [
        MarketSnapshot(
            ticker=f"{prefix}-{i:06d}",
            event_ticker=f"{prefix}-EV{i // 500}",
            series_ticker=prefix,
            status="active",
            observed_at=T0 + timedelta(seconds=step),
            yes_bid=Decimal((i + step) % 99 + 1) / 100,
            yes_ask=Decimal("0.9900"),
        )
        for i in range(count)
    ]


async def naive_upsert(conn: Any, snaps: Sequence[Any]) -> None:
    """Reference path: per row, SELECT the current version, UPDATE it, INSERT the new one."""
    async with conn.transaction():
        for s in snaps:
            cur = await conn.execute(
                "SELECT id, market_id, event_id, yes_bid FROM markets "
                "WHERE ticker = %s AND row_current_ind",
                (s.ticker,),
            )
            row = await cur.fetchone()
            if row is None or row[3] == s.yes_bid:
                continue
            await conn.execute(
                "UPDATE markets SET row_end_ts = %s, row_current_ind = FALSE WHERE id = %s",
                (s.observed_at, row[0]),
            )
            await conn.execute(
                "INSERT INTO markets (market_id, ticker, event_id, status, yes_bid, yes_ask, "
                "row_start_ts, row_observed_ts) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (row[1], s.ticker, row[2], s.status, s.yes_bid, s.yes_ask, s.observed_at,
                 s.observed_at),
            )  # fmt: skip


async def copy_rows(conn: Any, keys: Sequence[tuple[int, str, int]], base: datetime) -> None:
    """Plain COPY of closed historical versions (same table, same constraints)."""
    async with (
        conn.transaction(),
        conn.cursor().copy(
            "COPY markets (market_id, ticker, event_id, status, yes_bid, yes_ask, row_start_ts, "
            "row_end_ts, row_observed_ts, row_current_ind) FROM STDIN"
        ) as pipe,
    ):
        for i, (market_id, ticker, event_id) in enumerate(keys):
            await pipe.write_row(
                (market_id, ticker, event_id, "active", Decimal(i % 99 + 1) / 100,
                 Decimal("0.9900"), base, base + timedelta(milliseconds=500), base, False)
            )  # fmt: skip


@dataclass(frozen=True)
class Figure:
    method: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


async def measure(url: str, markets: int, rounds: int, batch: int) -> list[Figure]:
    from precog.config.environment import Environment
    from precog.database import crud_operations as crud
    from precog.database.connection import Database, PoolSettings

    db = Database(
        url, env=Environment.DEV, description="benchmark", settings=PoolSettings(1, 2, 60)
    )
    await db.start()
    naive_rows = min(markets, 2000)
    async with db, db.connection() as conn:
        for offset in range(0, markets, batch):
            await crud.upsert_markets(conn, snapshots("KXB", markets, 0)[offset : offset + batch])
        await crud.upsert_markets(conn, snapshots("KXN", naive_rows, 0))

        started = time.perf_counter()
        for step in range(1, rounds + 1):
            rows = snapshots("KXB", markets, step)
            for offset in range(0, markets, batch):
                await crud.upsert_markets(conn, rows[offset : offset + batch])
        batched = Figure(f"batched SCD2 upsert (batch {batch})", markets * rounds,
                         time.perf_counter() - started)  # fmt: skip

        started = time.perf_counter()
        await naive_upsert(conn, snapshots("KXN", naive_rows, 1))
        naive = Figure("naive SELECT/UPDATE/INSERT per row", naive_rows,
                       time.perf_counter() - started)  # fmt: skip

        cur = await conn.execute(
            "SELECT market_id, ticker, event_id FROM markets WHERE row_current_ind "
            "AND ticker LIKE 'KXB-%%' ORDER BY market_id"
        )
        keys = [(int(a), str(b), int(c)) for a, b, c in await cur.fetchall()]
        started = time.perf_counter()
        for r in range(rounds):
            await copy_rows(conn, keys, T0 - timedelta(days=365) + timedelta(seconds=r))
        copied = Figure("plain COPY (no SCD2 logic)", len(keys) * rounds,
                        time.perf_counter() - started)  # fmt: skip
    return [batched, naive, copied]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scd2_throughput")
    parser.add_argument("--markets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)

    import psycopg

    from precog.database import embedded, migrate

    embedded.ensure_runtime_dir()
    data_dir = Path(__file__).resolve().parent.parent / "build" / "bench-postgres"
    server = embedded.start_server(data_dir, keep_running=False)
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    url = server.url(BENCH_DB)
    migrate.upgrade(url)
    figures = asyncio.run(measure(url, args.markets, args.rounds, args.batch))
    batched = figures[0]
    print(f"{'method':<40} {'rows':>8} {'seconds':>8} {'rows/s':>10} {'vs batched':>11}")
    for f in figures:
        print(
            f"{f.method:<40} {f.rows:>8} {f.seconds:>8.2f} {f.rate:>10,.0f} "
            f"{f.rate / batched.rate:>10.2f}x"
        )
    naive, copied = figures[1], figures[2]
    print(
        f"batched is {batched.rate / naive.rate:.1f}x the naive path and "
        f"{batched.rate / copied.rate:.2f}x plain COPY"
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
