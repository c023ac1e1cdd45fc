"""Benchmark 3, WebSocket pipeline: sandbox burst -> decode -> books and events -> a queue.

The sandbox (its own event loop in a thread) bursts real simulation frames (book deltas and
tickers of every active market) to one `KalshiWebSocket`; those exact frames are then
replayed (seq renumbered, so no gap) alternately with the client in transport-only mode
(frames read and counted: the reference) and in full pipeline mode (decoded, parsed into
typed records, applied to the local books, every event appended to a persistence queue).
Also: the raw JSON decode rate of the same frames, in-process, for context.
Targets: pipeline >= 50% of the transport-only rate and >= 30,000 messages/s.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import deque
from decimal import Decimal
from typing import Any

from benchmarks.sandbox_thread import running_sandbox
from benchmarks.suite import Options, Result

TITLE = "WebSocket pipeline vs transport only (same frames, same socket)"
NAME = "websocket_pipeline"
ROUNDS = 3
WAIT_LIMIT = 120.0


async def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {WAIT_LIMIT:.0f} s")
        await asyncio.sleep(0.0005)


def decode_rate(frames: list[str], **options: Any) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for frame in frames:
            json.loads(frame, **options)
        best = max(best, len(frames) / (time.perf_counter() - started))
    return best


async def measure(markets: int, burst: int) -> list[Result]:
    from precog.schedulers.kalshi_websocket import KalshiWebSocket

    with running_sandbox(markets, seed=9) as (server, signer):
        hub = server.stream
        tickers = server.exchange.market_tickers(["active"])
        persistence: deque[Any] = deque()
        async with KalshiWebSocket(server.ws_url, signer, event_buffer=1_000) as ws:
            ws.add_callback(persistence.append)
            await ws.wait_connected(30)
            await ws.subscribe(["orderbook_delta", "ticker"], tickers)
            await _until(lambda: ws.stats.messages >= len(tickers), "the book snapshots")
            sent_before = len(hub.sent)
            target = ws.stats.frames + burst
            hub.configure(burst=burst)
            await _until(lambda: ws.stats.frames >= target, "the burst")
            frames = [f.text for f in list(hub.sent)[sent_before:]][:burst]

            rates: dict[bool, list[float]] = {False: [], True: []}
            for index in range(2 * ROUNDS):
                decode = index % 2 == 1
                ws.transport_only = not decode
                persistence.clear()
                errors = ws.stats.decode_errors
                target = ws.stats.frames + len(frames)
                started = time.perf_counter()
                hub.replay(frames)
                await _until(lambda: ws.stats.frames >= target, "the replay")  # noqa: B023
                rates[decode].append(len(frames) / (time.perf_counter() - started))
                if decode:
                    assert ws.stats.decode_errors == errors, "frames failed to decode"
                    assert len(persistence) >= len(frames), "events missing from the queue"
            ws.transport_only = False
            assert ws.stats.gaps == 0, "the replays broke the seq check"
    transport = statistics.median(rates[False])
    pipeline = statistics.median(rates[True])
    raw = decode_rate(frames)
    exact = decode_rate(frames, parse_float=Decimal)
    size = sum(map(len, frames)) / len(frames)
    details = {"frames": len(frames), "markets": len(tickers), "mean_frame_bytes": size,
               "transport_rates": rates[False], "pipeline_rates": rates[True]}  # fmt: skip
    return [
        Result(NAME, f"pipeline, {len(frames):,} frames", pipeline, "msgs/s",
               "transport only", transport, ">= 0.5x and >= 30,000/s",
               pipeline >= 0.5 * transport and pipeline >= 30_000, details),
        Result(NAME, "raw json.loads of the same frames", raw, "msgs/s", "transport only",
               transport),
        Result(NAME, "json.loads(parse_float=Decimal)", exact, "msgs/s", "transport only",
               transport),
    ]  # fmt: skip


def run(options: Options) -> list[Result]:
    markets = options.size(quick=200, default=500)
    burst = options.size(quick=5_000, default=20_000)
    return asyncio.run(measure(markets, burst))
