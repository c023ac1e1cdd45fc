"""KalshiWebSocket under the sandbox's WebSocket faults: dropped connections, a skipped seq,
a terminal error 25, garbage frames, a stalled server and refused upgrades. After each the
client reconnects, resubscribes or resyncs, and its books end equal to the sandbox's books."""

from __future__ import annotations

import httpx
import pytest

from precog.schedulers.kalshi_websocket import KalshiWebSocket, StreamState
from tests.plugins.kalshi_stream import active_tickers, book_mismatches, ws_client
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")


async def _settled(ws: KalshiWebSocket, sandbox: RunningSandbox, tickers: list[str]) -> None:
    """Move the market, then wait until the client is connected with books equal to truth."""
    sandbox.exchange.step(3)
    await eventually_async(
        lambda: ws.connected and not book_mismatches(ws, sandbox.exchange, tickers),
        timeout=10,
        what="books equal the sandbox after recovery",
    )


async def test_recovers_from_every_stream_fault(sandbox: RunningSandbox) -> None:
    tickers = active_tickers(sandbox.exchange, 6)
    hub = sandbox.server.stream
    admin = sandbox.server.url + "/_admin/ws"
    async with ws_client(sandbox, idle_timeout=0.3, ping_timeout=0.3) as ws:
        await ws.wait_connected()
        sub = await ws.subscribe(["orderbook_delta", "ticker"], tickers)
        await _settled(ws, sandbox, tickers)

        # Dropped connection (set over the admin endpoint): reconnect and resubscribe.
        first_sids = dict(sub.sids)
        async with httpx.AsyncClient() as http:
            answer = await http.post(admin, json={"drop": True})
        assert answer.status_code == 200
        await eventually_async(lambda: ws.stats.reconnects >= 1 and ws.connected)
        await eventually_async(lambda: len(sub.sids) == 2)
        assert set(sub.sids.values()).isdisjoint(first_sids.values())  # new sids, replayed
        await _settled(ws, sandbox, tickers)

        # A skipped seq: gap detected, books resynced with get_snapshot.
        hub.configure(skip_seq=1)
        sandbox.exchange.step(3)
        await eventually_async(lambda: ws.stats.gaps >= 1 and ws.stats.resyncs >= 1)
        await _settled(ws, sandbox, tickers)

        # Error 25 (buffer overflow) ends the orderbook subscription: resubscribe that channel.
        resyncs, ticker_sid = ws.stats.resyncs, sub.sids["ticker"]
        old_book_sid = sub.sids["orderbook_delta"]
        hub.configure(overflow=True)
        await eventually_async(
            lambda: sub.sids.get("orderbook_delta", old_book_sid) != old_book_sid,
            what="orderbook channel resubscribed",
        )
        assert ws.stats.resyncs == resyncs + 1
        assert sub.sids["ticker"] == ticker_sid  # the healthy channel was left alone
        await _settled(ws, sandbox, tickers)

        # A garbage frame: counted, nothing else breaks.
        hub.configure(garbage=1)
        await _settled(ws, sandbox, tickers)
        assert ws.stats.decode_errors == 1

        # Refused upgrades while reconnecting: the backoff keeps trying until one works.
        reconnects = ws.stats.reconnects
        hub.configure(refuse_upgrades=3, drop=True)
        await eventually_async(lambda: ws.stats.reconnects > reconnects and ws.connected)
        assert ws.stats.connect_failures >= 3
        assert hub.stats.refused >= 3
        await _settled(ws, sandbox, tickers)

        # A stall (nothing sent, pings unanswered, socket open): the idle watchdog drops it.
        reconnects = ws.stats.reconnects
        hub.configure(stall=True)
        await eventually_async(lambda: ws.stats.idle_timeouts >= 1, what="stall detected")
        hub.configure(stall=False)
        await eventually_async(lambda: ws.stats.reconnects > reconnects and ws.connected)
        await _settled(ws, sandbox, tickers)

        assert ws.state is StreamState.CONNECTED
        assert len(hub.subscriptions()) == 2  # the old connections' subscriptions are gone
