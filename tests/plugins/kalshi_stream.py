"""Helpers for tests of the Kalshi WebSocket client against the sandbox (not a fixture plugin).

`ws_client(sandbox, **options)` builds a `KalshiWebSocket` for a running sandbox with fast
reconnects; `sandbox_levels(exchange, ticker)` is the sandbox's book as REST serves it
(ascending `(price, size)` per side); `books_equal(client, exchange, tickers)` compares.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from precog.sandbox.exchange import SandboxExchange
from precog.schedulers.kalshi_websocket import KalshiWebSocket
from precog.utils.retry import RetryPolicy
from tests.plugins.sandbox import RunningSandbox

Levels = list[tuple[Decimal, Decimal]]


def ws_client(sandbox: RunningSandbox, **options: Any) -> KalshiWebSocket:
    options.setdefault(
        "backoff", RetryPolicy(base_delay=0.01, max_delay=0.05, rng=random.Random(1))
    )
    return KalshiWebSocket(sandbox.server.ws_url, sandbox.signer, **options)


def sandbox_levels(exchange: SandboxExchange, ticker: str) -> tuple[Levels, Levels]:
    book = exchange.orderbook(ticker, {})["orderbook_fp"]
    return (
        [(Decimal(p), Decimal(s)) for p, s in book["yes_dollars"]],
        [(Decimal(p), Decimal(s)) for p, s in book["no_dollars"]],
    )


def book_mismatches(
    client: KalshiWebSocket, exchange: SandboxExchange, tickers: Iterable[str]
) -> list[str]:
    """Tickers whose local book is missing, stale or differs from the sandbox (empty = equal)."""
    with exchange.lock():
        wrong = []
        for ticker in tickers:
            book = client.book(ticker)
            yes, no = sandbox_levels(exchange, ticker)
            if book is None or book.stale or book.levels("yes") != yes or book.levels("no") != no:
                wrong.append(ticker)
        return wrong


def active_tickers(exchange: SandboxExchange, n: int) -> list[str]:
    return exchange.market_tickers(["active"])[:n]


__all__ = ["active_tickers", "book_mismatches", "sandbox_levels", "ws_client"]
