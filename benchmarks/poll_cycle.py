"""Benchmark 4, poll cycle: 10,000 markets over pagination from the sandbox, parsed and stored.

The sandbox (`precog sandbox serve` in its own process, as the real exchange is remote)
lists 10,000 markets (2,000 with --quick); `KalshiPoller` (default Basic rate-limit tier,
pages of 1,000) walks every page, parses the markets into typed records and writes each
page as one SCD2 batch into a scratch embedded PostgreSQL while fetching the next. The cold
cycle (new keys, event lookups) is shown; the target is held by the steady cycle (median of
three; `/_admin/step` moves prices before each). Reference: the sandbox's raw page-serving
rate, the same pages fetched over the same loopback HTTP as bytes only.
Target: one full cycle within 3 s.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

from benchmarks.sandbox_thread import sandbox_process
from benchmarks.scratch_db import database, fresh_database
from benchmarks.suite import ROOT, Options, Result

TITLE = "Poll cycle: every market page parsed and persisted vs raw page serving"
NAME = "poll_cycle"
PAGE = 1_000
CYCLES = 3
TARGET_SECONDS = 3.0
KEY_DIR = ROOT / "build" / "bench-sandbox-key"
CURSOR = re.compile(rb'"cursor":\s*"([^"]*)"')


async def measure(url: str, markets: int) -> list[Result]:
    import httpx

    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller

    with sandbox_process(markets, 4, KEY_DIR) as (ready, signer):
        async with (
            database(url) as db,
            httpx.AsyncClient(base_url=ready["base_url"] + "/", timeout=30) as raw,
            KalshiClient(ready["base_url"], signer=signer) as client,
        ):

            async def raw_pages() -> float:
                started = time.perf_counter()
                cursor = ""
                while True:
                    params = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
                    body = (await raw.get("markets", params=params)).content
                    found = CURSOR.search(body)
                    assert found is not None, "a page without a cursor"
                    cursor = found.group(1).decode()
                    if not cursor:
                        return time.perf_counter() - started

            poller = KalshiPoller(client, DatabaseSink(db), page_size=PAGE)
            started = time.perf_counter()
            cold = await poller.poll_once(keep=False)
            cold_seconds = time.perf_counter() - started
            assert cold.stored is not None
            assert cold.stored.created == cold.seen, cold.stored
            steady: list[float] = []
            raw_seconds: list[float] = []
            changed = 0
            for _ in range(CYCLES):
                (await raw.post(ready["admin_url"] + "/step", json={})).raise_for_status()
                raw_seconds.append(await raw_pages())
                started = time.perf_counter()
                poll = await poller.poll_once(keep=False)
                steady.append(time.perf_counter() - started)
                assert poll.seen == cold.seen
                assert poll.stored is not None
                changed += poll.stored.updated
    cycle = statistics.median(steady)
    reference = statistics.median(raw_seconds)
    details = {"markets": cold.seen, "pages": cold.pages, "cycles": steady,
               "raw_seconds": raw_seconds, "changed_per_cycle": changed / CYCLES}  # fmt: skip
    return [
        Result(NAME, f"cold cycle, {cold.seen:,} markets (new keys, event lookups)",
               cold_seconds, "s", "raw page serving", reference,
               details={"skipped": len(cold.skipped)}),
        Result(NAME, f"steady cycle, {cold.seen:,} markets", cycle, "s", "raw page serving",
               reference, f"< {TARGET_SECONDS:g} s", cycle < TARGET_SECONDS, details),
    ]  # fmt: skip


def run(options: Options) -> list[Result]:
    markets = options.size(quick=2_000, default=10_000)
    url = fresh_database("precog_bench")
    return asyncio.run(measure(url, markets))
