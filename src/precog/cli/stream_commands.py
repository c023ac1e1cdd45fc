"""`precog stream`: follow markets on the Kalshi WebSocket for a while and show their books.

Connects to the configured target's WebSocket (`KALSHI_WS_URL`, else the REST host's
``/trade-api/ws/v2``; in sandbox mode without a URL, an in-process sandbox), subscribes
`orderbook_delta` and `ticker` for `--tickers` (default: the first `--markets` open
markets), keeps local order books for `--duration` seconds (Ctrl-C ends early) and prints
the top of each book and the stream's counters (`--json`: all of it as one JSON object).
Stores nothing: the collection service is `precog run`.

Exit codes: 0 ok; 2 bad options or an unknown market; 4 the WebSocket cannot be reached
within `--connect-timeout` seconds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from precog.errors import ConfigError, ServiceUnavailableError

if TYPE_CHECKING:
    from precog.schedulers.kalshi_websocket import KalshiWebSocket


class StreamUnavailableError(ServiceUnavailableError):
    """The WebSocket did not accept a connection in time."""


def stream_command(
    tickers: str = typer.Option(
        "", "--tickers", help="Comma-separated market tickers (default: the first open ones)."
    ),
    markets: int = typer.Option(
        5, "--markets", min=1, max=1000, help="How many open markets when --tickers is not set."
    ),
    duration: float = typer.Option(
        10.0, "--duration", min=0.1, help="Seconds to follow the stream (Ctrl-C ends early)."
    ),
    connect_timeout: float = typer.Option(
        10.0, "--connect-timeout", min=0.1, help="Seconds to wait for the WebSocket."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Follow markets on the WebSocket for a while; print their books and the counters."""
    from precog.utils import event_loop

    chosen = [t.strip() for t in tickers.split(",") if t.strip()]
    event_loop.run(_stream(chosen, markets, duration, connect_timeout, as_json))


async def _stream(
    tickers: list[str], markets: int, duration: float, connect_timeout: float, as_json: bool
) -> None:
    import asyncio
    import contextlib
    import os

    from precog.api_connectors.kalshi_auth import KalshiSigner
    from precog.api_connectors.kalshi_session import kalshi_session
    from precog.config.environment import KalshiMode
    from precog.schedulers.kalshi_websocket import (
        KalshiWebSocket,
        StreamCommandError,
        kalshi_ws_url,
    )
    from precog.utils import event_loop

    async with kalshi_session(os.environ) as session:
        client = session.client
        if not tickers:
            page = await client.get_markets(limit=markets, status="open")
            tickers = [m.ticker for m in page.items]
            if not tickers:
                raise ConfigError("no open markets to follow; pass --tickers")
        url = kalshi_ws_url(KalshiMode.SANDBOX, os.environ, client.base_url)
        signer = client.signer
        if url is None or not isinstance(signer, KalshiSigner):
            raise ConfigError("no WebSocket URL or credentials for this target; set KALSHI_WS_URL")
        async with KalshiWebSocket(url, signer) as ws:
            try:
                await ws.wait_connected(connect_timeout)
            except TimeoutError:
                raise StreamUnavailableError(
                    f"the Kalshi WebSocket {url} did not accept a connection within "
                    f"{connect_timeout:g}s; check the target and KALSHI_WS_URL"
                ) from None
            try:
                await ws.subscribe(["orderbook_delta", "ticker"], tickers)
            except StreamCommandError as exc:
                raise ConfigError(
                    f"cannot subscribe to {', '.join(tickers)}: {exc.text} "
                    f"(WebSocket error {exc.error_code}); check --tickers"
                ) from None
            stop = asyncio.Event()
            event_loop.call_on_stop_signal(asyncio.get_running_loop(), stop.set)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
            _report(ws, url, tickers, as_json)


def _report(ws: KalshiWebSocket, url: str, tickers: list[str], as_json: bool) -> None:
    import datetime as dt
    import json

    rows: list[dict[str, Any]] = []
    for ticker in tickers:
        book = ws.book(ticker)
        if book is None or book.stale:
            rows.append({"ticker": ticker, "synced": False})
            continue
        top = book.top(snapshot=False, venue_time=None, received_at=dt.datetime.now(dt.UTC))
        rows.append(
            {
                "ticker": ticker,
                "synced": True,
                "yes_bid": _text(top.yes_bid),
                "yes_bid_size": _text(top.yes_bid_size),
                "yes_ask": _text(top.yes_ask),
                "yes_ask_size": _text(top.yes_ask_size),
                "no_bid": _text(top.no_bid),
                "no_ask": _text(top.no_ask),
            }
        )
    s = ws.stats
    counters = {
        "messages": s.messages,
        "gaps": s.gaps,
        "resyncs": s.resyncs,
        "reconnects": s.reconnects,
        "decode_errors": s.decode_errors,
    }
    if as_json:
        print(json.dumps({"url": url, "markets": rows, "stats": counters}))  # noqa: T201
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Order books from {url}")
    for column in ("ticker", "yes bid", "size", "yes ask", "size", "synced"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["ticker"],
            row.get("yes_bid") or "-",
            row.get("yes_bid_size") or "-",
            row.get("yes_ask") or "-",
            row.get("yes_ask_size") or "-",
            "yes" if row["synced"] else "no",
        )
    console = Console()
    console.print(table)
    console.print(", ".join(f"{k} {v}" for k, v in counters.items()))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def register(app: typer.Typer) -> None:
    app.command("stream")(stream_command)


__all__ = ["register"]
