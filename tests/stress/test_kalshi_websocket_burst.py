"""Thousands of markets and message bursts through one connection: the client keeps up, its
books equal the sandbox's books afterwards, and its memory is bounded. Memory is measured
as the deep size of everything the client holds (books, event buffer, routes, pending
commands) after each burst: it is bounded by the number of markets and the event-buffer
cap, not by the number of frames (a nobody-reads `events()` buffer drops its oldest)."""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

import pytest

from precog.schedulers.kalshi_websocket import KalshiWebSocket
from tests.plugins.kalshi_stream import book_mismatches, ws_client
from tests.plugins.sandbox import SandboxFactory
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")

MARKETS = 1200
BURST = 4_000
BUFFER = 500
BYTES_PER_MARKET = 6_000  # a book of <= 2 x 5 levels with Decimal keys and sizes, generously
BYTES_PER_EVENT = 2_000


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of `obj` and everything it references through containers and attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, type):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset | deque):
        size += sum(deep_size(item, seen) for item in obj)
    else:
        for name in getattr(type(obj), "__slots__", ()):
            size += deep_size(getattr(obj, name, None), seen)
        if hasattr(obj, "__dict__"):
            size += deep_size(vars(obj), seen)
    return size


def held_by(ws: KalshiWebSocket) -> int:
    parts = (ws.books, ws._buffer, ws._routes, ws._seq, ws._pending, ws._subs)
    return deep_size(parts)


async def test_thousands_of_markets_in_bursts_with_bounded_memory(
    sandbox_factory: SandboxFactory,
) -> None:
    sandbox = sandbox_factory(markets=MARKETS, seed=3)
    hub = sandbox.server.stream
    tickers = sandbox.exchange.market_tickers(["active"])
    assert len(tickers) > 900
    async with ws_client(sandbox, event_buffer=BUFFER) as ws:
        await ws.wait_connected()
        await ws.subscribe(["orderbook_delta", "ticker"], tickers)
        await eventually_async(lambda: ws.stats.messages >= len(tickers), what="snapshots")
        held = []
        for _ in range(2):
            target = ws.stats.frames + BURST
            hub.configure(burst=BURST)
            await eventually_async(
                lambda t=target: ws.stats.frames >= t and hub.stats.frames_sent >= t,
                timeout=60,
                what="burst received",
            )
            held.append(held_by(ws))
        assert ws.stats.frames > 2 * BURST
        assert ws.stats.dropped_events > BURST  # nobody read events(): the cap held
        bound = len(tickers) * BYTES_PER_MARKET + BUFFER * BYTES_PER_EVENT
        assert max(held) < bound, (held, bound)
        assert held[1] < held[0] * 1.25, held  # the second burst did not pile up
        assert ws.stats.decode_errors == 0
        assert ws.stats.gaps == 0
        await eventually_async(
            lambda: not book_mismatches(ws, sandbox.exchange, tickers), what="books equal"
        )
        assert len(ws.books) == len(tickers)
