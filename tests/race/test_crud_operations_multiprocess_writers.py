"""Four processes x four tasks writing random observations to 30 shared keys (issue 11, defect 1).

Each task has its own connection and writes batches of random 0.1/0.2 prices at random,
distinct instants (so arrivals are out of order and interleave across processes). The audit
afterwards: for every key the current row is the newest observation, history has no gap,
overlap or version without a change, every version starts and is confirmed by a real
observation of its state, and the writers' counts add up to what was submitted and stored.

The worker is this module run as `python -m tests.race.test_crud_operations_multiprocess_writers`:
it connects, says ready, waits for the parent's go on stdin (so the processes really write
at the same time), writes, and prints its observations and counts as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from precog.database import crud_operations as crud
from precog.database.records import MarketSnapshot
from precog.database.scd2 import UpsertResult
from tests.plugins.cli_runner import subprocess_env
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("crud_operations")

PROCESSES = 4
TASKS = 4
ROUNDS = 5
BATCH = 10
KEYS = [f"KXMP-{i:02d}" for i in range(30)]
T0 = datetime(2026, 8, 1, tzinfo=UTC)
PRICES = ("0.1000", "0.2000")


async def _task(url: str, worker: int, task: int, rng: random.Random) -> dict[str, object]:
    slot = worker * TASKS + task  # the low digits make every instant unique across writers
    written: list[tuple[str, int, str]] = []
    total = UpsertResult()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(ROUNDS):
            batch = [
                (key, rng.randrange(100_000) * PROCESSES * TASKS + slot, rng.choice(PRICES))
                for key in rng.sample(KEYS, BATCH)
            ]
            snaps = [
                MarketSnapshot(ticker=key, event_ticker="KXMP-EV", series_ticker="KXMP",
                               status="active", observed_at=T0 + timedelta(milliseconds=ms),
                               yes_bid=Decimal(price))
                for key, ms, price in batch
            ]  # fmt: skip
            total += await crud.upsert_markets(conn, snaps)
            written += batch
    return {"observations": written, "counts": list(vars(total).values())}


async def _worker(url: str, worker: int, ready: Path) -> list[dict[str, object]]:
    rng = random.Random(worker)
    await asyncio.to_thread(ready.write_text, "ready")
    await asyncio.to_thread(sys.stdin.readline)  # the parent's go (or EOF if it died)
    return await asyncio.gather(*(_task(url, worker, t, rng) for t in range(TASKS)))


def test_processes_writing_random_out_of_order_observations_end_at_the_newest(
    db_url: str, gate_python: list[str], tmp_path: Path
) -> None:
    root = Path(__file__).resolve().parents[2]
    module = "tests.race.test_crud_operations_multiprocess_writers"
    ready = [tmp_path / f"ready-{w}" for w in range(PROCESSES)]
    procs = [
        subprocess.Popen(
            [*gate_python, "-m", module, db_url, str(w), str(ready[w])],
            cwd=root, env=subprocess_env(), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for w in range(PROCESSES)
    ]  # fmt: skip
    outputs: list[str] = []
    try:
        eventually(lambda: all(r.exists() for r in ready), timeout=60, what="workers ready")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    tasks = [task for out in outputs for task in json.loads(out)]
    observations = [tuple(o) for task in tasks for o in task["observations"]]
    total = sum((UpsertResult(*task["counts"]) for task in tasks), UpsertResult())
    assert len(observations) == PROCESSES * TASKS * ROUNDS * BATCH
    assert total.created + total.updated + total.unchanged + total.stale == len(observations)
    assert total.created == len({o[0] for o in observations})

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT ticker, yes_bid, row_start_ts, row_end_ts, row_observed_ts, row_current_ind "
            "FROM markets ORDER BY ticker, row_start_ts"
        ).fetchall()
    assert len(rows) == total.written
    observed = {(key, T0 + timedelta(milliseconds=ms), Decimal(p)) for key, ms, p in observations}
    newest = {key: Decimal(price) for key, _, price in sorted(observations, key=lambda o: o[1])}
    versions: dict[str, list[tuple[object, ...]]] = {}
    for ticker, *version in rows:
        versions.setdefault(ticker, []).append(tuple(version))
    wrong = [key for key, history in versions.items() if history[-1][0] != newest[key]]
    assert wrong == [], f"current row is not the newest observation for {wrong}"
    for key, history in versions.items():
        assert [v[4] for v in history].count(True) == 1
        assert history[-1][4] is True
        for older, newer in itertools.pairwise(history):
            assert older[2] == newer[1], "gap or overlap"
            assert older[0] != newer[0], "a version without a change"
        for bid, start, _, confirmed, _ in history:
            assert (key, start, bid) in observed
            assert (key, confirmed, bid) in observed
    print(f"{len(observations)} observations: {total}; {len(rows)} versions")


if __name__ == "__main__":
    results = asyncio.run(_worker(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])))
    print(json.dumps(results, default=str))
