"""WebSocket pipeline throughput against the transport alone, same frames, same socket.

The sandbox bursts real simulation frames (book deltas and tickers for every active
market) to one connection; those exact frames are then replayed (seq renumbered so no gap
is seen) alternately to the client in transport-only mode (frames read and counted) and
in full pipeline mode (decoded, parsed to typed records, applied to the books, events
emitted). The ratio says what share of the socket's rate the pipeline keeps."""

from __future__ import annotations

import pytest

from precog.sandbox.stream import StreamHub
from precog.schedulers.kalshi_websocket import KalshiWebSocket
from tests.performance.conftest import SpeedComparer
from tests.plugins.kalshi_stream import ws_client
from tests.plugins.sandbox import SandboxFactory
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")

BURST = 2_000
# Measured on a shared 2-core machine: the pipeline keeps ~0.4-0.6 of the transport rate.
MIN_SHARE = 0.2


def replayer(ws: KalshiWebSocket, hub: StreamHub, frames: list[str], *, decode: bool):
    async def run() -> None:
        ws.transport_only = not decode
        target = ws.stats.frames + len(frames)
        hub.replay(frames)
        await eventually_async(lambda: ws.stats.frames >= target, interval=0.0005, timeout=30)

    return run


async def test_pipeline_keeps_up_with_the_transport(
    sandbox_factory: SandboxFactory, compare_speed: SpeedComparer
) -> None:
    sandbox = sandbox_factory(markets=300, seed=11)
    hub = sandbox.server.stream
    tickers = sandbox.exchange.market_tickers(["active"])
    async with ws_client(sandbox, event_buffer=1000) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta", "ticker"], tickers)
        await eventually_async(lambda: ws.stats.messages >= len(tickers), what="snapshots")
        sent_before = len(hub.sent)
        target = ws.stats.frames + BURST
        hub.configure(burst=BURST)
        await eventually_async(lambda: ws.stats.frames >= target, timeout=30, what="burst")
        frames = [f.text for f in list(hub.sent)[sent_before:]]
        assert len(frames) >= BURST
        assert ws.stats.decode_errors == 0

        result = await compare_speed.async_(
            baseline=replayer(ws, hub, frames, decode=False),
            candidate=replayer(ws, hub, frames, decode=True),
            min_speedup=MIN_SHARE,
            baseline_name="transport only",
            candidate_name="decode+apply pipeline",
        )
        ws.transport_only = False
        assert ws.stats.gaps == 0  # the replays really went through the seq check
        assert ws.stats.decode_errors == 0
        print(f"pipeline/transport rate ratio: {result.speedup:.2f}")
