"""Subscribe, change and unsubscribe while messages flow: a thread steps the sandbox market
without pause while the client changes its subscriptions. In the end the client follows
exactly what it asked for, the server agrees, no seq gap was caused by the churn, and every
followed book equals the sandbox's book."""

from __future__ import annotations

import random
import threading

import pytest

from precog.api_connectors.kalshi_stream_models import BookUpdate, StreamEvent
from tests.plugins.kalshi_stream import active_tickers, book_mismatches, ws_client
from tests.plugins.sandbox import RunningSandbox
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")


async def test_subscription_churn_while_the_market_moves(sandbox: RunningSandbox) -> None:
    pool = active_tickers(sandbox.exchange, 16)
    rng = random.Random(5)
    stop = threading.Event()
    steps = 0

    def move() -> None:
        nonlocal steps
        while not stop.wait(0.001):  # paced, so the client's loop gets the GIL too
            sandbox.exchange.step()
            steps += 1

    updates_for: dict[str, int] = {}

    def count(event: StreamEvent) -> None:
        if isinstance(event, BookUpdate):
            updates_for[event.market_ticker] = updates_for.get(event.market_ticker, 0) + 1

    mover = threading.Thread(target=move, daemon=True)
    async with ws_client(sandbox) as ws:
        ws.add_callback(count)
        await ws.wait_connected()
        books = await ws.subscribe(["orderbook_delta"], pool[:4])
        mover.start()
        try:
            tickers_sub = None
            for _ in range(16):
                followed = books.market_tickers or set()
                add = rng.sample([t for t in pool if t not in followed], 2)
                remove = rng.sample(sorted(followed), min(2, len(followed) - 1))
                await ws.update_subscription(books, add_markets=add, remove_markets=remove)
                if tickers_sub is None:
                    tickers_sub = await ws.subscribe(["ticker"], rng.sample(pool, 3))
                else:
                    await ws.unsubscribe(tickers_sub)
                    tickers_sub = None
            assert tickers_sub is None  # an even number of rounds ends unsubscribed
            assert steps > 0, "the market moved during the churn"
        finally:
            stop.set()
            mover.join(timeout=10)
        assert not mover.is_alive()

        followed = set(books.market_tickers or ())
        server = {
            s["channel"]: set(s["market_tickers"] or ())
            for s in sandbox.server.stream.subscriptions()
        }
        assert server == {"orderbook_delta": followed}
        sandbox.exchange.step()
        await eventually_async(
            lambda: not book_mismatches(ws, sandbox.exchange, followed), what="books equal"
        )
        assert set(ws.books) == followed
        assert ws.stats.gaps == 0
        assert ws.stats.decode_errors == 0
        assert sum(updates_for.values()) > len(pool)
