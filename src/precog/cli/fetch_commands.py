"""`precog fetch balance|markets|positions|fills|settlements`: pull Kalshi data and store it.

The CLI only parses, calls and prints: fetching and storing is the service layer's
(`schedulers.kalshi_poller` for markets, `schedulers.account_collector` for the account),
the same path the `precog run` service uses. Each command talks to the configured Kalshi
target (`api_connectors.kalshi_session`) and persists unless `--dry-run` (what is stored
for each kind: see `schedulers.account_collector` and `schedulers.kalshi_poller`).

`--json` prints everything fetched (Decimals as exact strings); otherwise a summary line and
a Rich table of the first `--limit` rows (20 by default, `--all` for every row): rendering
ten thousand rows to a terminal costs more than fetching them. Errors exit with the codes of
SPEC §2: missing credentials 2, refused credentials 1 (with the server's reason), exchange
unreachable after retries 4.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.database.connection import Database
    from precog.schedulers.account_collector import AccountCollector

T = TypeVar("T")

fetch_app = typer.Typer(help="Fetch Kalshi data and store it.", no_args_is_help=True)

DRY_RUN = typer.Option(False, "--dry-run", help="Fetch and print, but store nothing.")
AS_JSON = typer.Option(False, "--json", help="Print JSON (everything fetched) instead of a table.")
LIMIT = typer.Option(20, "--limit", min=0, help="Rows of the table to print (JSON is complete).")
ALL_ROWS = typer.Option(False, "--all", help="Print every row of the table.")
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class Output:
    """How to print: JSON, or a table of at most `limit` rows (None = all)."""

    as_json: bool = False
    limit: int | None = DEFAULT_LIMIT


def _output(as_json: bool, limit: int = DEFAULT_LIMIT, all_rows: bool = False) -> Output:
    return Output(as_json=as_json, limit=None if all_rows else limit)


def register(app: typer.Typer) -> None:
    app.add_typer(fetch_app, name="fetch")


# ------------------------------------------------------------------ plumbing
def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _record(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


@asynccontextmanager
async def _services(dry_run: bool) -> AsyncIterator[tuple[KalshiClient, Database | None]]:
    """The Kalshi client and, unless a dry run, the database (schema checked)."""
    from precog.api_connectors.kalshi_session import kalshi_session

    async with kalshi_session(os.environ) as session:
        if dry_run:
            yield session.client, None
            return
        from precog.database.connection import Database

        db = await Database.open(os.environ)
        async with db:
            await db.require_current_schema()
            yield session.client, db


async def _collect(dry_run: bool, work: Callable[[AccountCollector], Awaitable[T]]) -> T:
    from precog.schedulers.account_collector import AccountCollector

    async with _services(dry_run) as (client, db):
        return await work(AccountCollector(client, db))


def _progress(what: str) -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"fetching {what}"),
        BarColumn(),
        TextColumn("{task.completed} records, {task.fields[pages]} pages"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _page_counter(progress: Progress, what: str) -> Callable[[int], None]:
    task = progress.add_task(what, total=None, pages=0)

    def on_page(records: int) -> None:
        progress.update(task, advance=records, pages=progress.tasks[0].fields["pages"] + 1)

    return on_page


def _emit(
    out: Output,
    payload: dict[str, Any],
    *,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    summary: str,
) -> None:
    if out.as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(summary)
    shown = rows if out.limit is None else rows[: out.limit]
    if shown:
        table = Table(title=title)
        for column in columns:
            table.add_column(column, justify="right" if column in _NUMERIC else "left")
        for row in shown:
            table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
        console.print(table)
    if len(shown) < len(rows):
        console.print(
            f"first {len(shown)} of {len(rows)} rows shown; --all prints every row, "
            "--json everything"
        )


_NUMERIC = {
    "balance", "portfolio_value", "yes_bid", "yes_ask", "last_price", "volume", "position",
    "market_exposure", "realized_pnl", "count", "yes_price", "revenue", "fee_cost",
}  # fmt: skip


def _stored(result: Any) -> dict[str, int] | None:
    return None if result is None else dataclasses.asdict(result)


def _stored_text(stored: Mapping[str, int] | None) -> str:
    if stored is None:
        return "dry run: nothing stored"
    return "stored: " + ", ".join(f"{v} {k}" for k, v in stored.items())


def _run(coro: Coroutine[Any, Any, None]) -> None:
    from precog.utils import event_loop

    event_loop.run(coro)


# ------------------------------------------------------------------ balance
@fetch_app.command("balance")
def balance_command(dry_run: bool = DRY_RUN, as_json: bool = AS_JSON) -> None:
    """Fetch the account balance (dollars); store a new version only if it changed."""
    _run(_fetch_balance(dry_run, _output(as_json)))


async def _fetch_balance(dry_run: bool, out: Output) -> None:
    async def work(collector: AccountCollector) -> tuple[Any, Any]:
        return await collector.balance()

    balance, result = await _collect(dry_run, work)
    stored = _stored(result)
    record = _record(balance)
    _emit(
        out,
        {"balance": record, "stored": stored},
        title="Kalshi balance",
        columns=["balance", "portfolio_value", "updated_ts"],
        rows=[record],
        summary=_stored_text(stored),
    )


# ------------------------------------------------------------------ markets
@fetch_app.command("markets")
def markets_command(  # noqa: PLR0917 (Typer options are parameters)
    status: str | None = typer.Option(
        None, "--status", help="unopened | open | paused | closed | settled"
    ),
    series_ticker: str | None = typer.Option(None, "--series", help="Only this series."),
    event_ticker: str | None = typer.Option(None, "--event", help="Only this event."),
    page_size: int = typer.Option(1000, "--page-size", min=1, max=1000, help="Markets per page."),
    dry_run: bool = DRY_RUN,
    as_json: bool = AS_JSON,
    limit: int = LIMIT,
    all_rows: bool = ALL_ROWS,
) -> None:
    """Fetch every market (all pages) and upsert them as SCD2 versions."""
    from precog.schedulers.kalshi_poller import MarketSelection

    selection = MarketSelection(
        series=(series_ticker,) if series_ticker else (), status=status, event_ticker=event_ticker
    )
    _run(_fetch_markets(selection, page_size, dry_run, _output(as_json, limit, all_rows)))


async def _fetch_markets(selection: Any, page_size: int, dry_run: bool, out: Output) -> None:
    from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller, MarketPoll

    async def fetch(client: KalshiClient, db: Database | None) -> MarketPoll:
        with _progress("markets") as progress:
            counter = _page_counter(progress, "markets")
            poller = KalshiPoller(
                client,
                None if db is None else DatabaseSink(db),
                selection=selection,
                page_size=page_size,
                on_page=lambda items, _observed: counter(len(items)),
            )
            return await poller.poll_once()

    async with _services(dry_run) as (client, db):
        poll = await fetch(client, db)
    stored = _stored(poll.stored)
    rows = [_record(m) for m in poll.markets]
    summary = f"{len(rows)} markets fetched in {poll.pages} pages; {_stored_text(stored)}"
    if poll.parse_errors:
        summary += f"; {poll.parse_errors} malformed records skipped"
    if poll.skipped:
        summary += f"; {len(poll.skipped)} markets without a known event skipped"
    _emit(
        out,
        {
            "markets": rows,
            "stored": stored,
            "parse_errors": poll.parse_errors,
            "skipped": poll.skipped,
        },
        title="Kalshi markets",
        columns=["ticker", "status", "yes_bid", "yes_ask", "last_price", "volume", "close_time"],
        rows=rows,
        summary=summary,
    )


# ------------------------------------------------------------------ positions
@fetch_app.command("positions")
def positions_command(
    dry_run: bool = DRY_RUN, as_json: bool = AS_JSON, limit: int = LIMIT, all_rows: bool = ALL_ROWS
) -> None:
    """Fetch open positions (market and event level); store changes as SCD2 versions."""
    _run(_fetch_positions(dry_run, _output(as_json, limit, all_rows)))


async def _fetch_positions(dry_run: bool, out: Output) -> None:
    async def work(collector: AccountCollector) -> Any:
        with _progress("positions") as progress:
            return await collector.positions(_page_counter(progress, "positions"))

    collected = await _collect(dry_run, work)
    stored = _stored(collected.stored)
    rows = [_record(p) for p in collected.items]
    _emit(
        out,
        {
            "market_positions": rows,
            "event_positions": [_record(e) for e in collected.extra],
            "stored": stored,
        },
        title="Kalshi positions",
        columns=["ticker", "position", "market_exposure", "realized_pnl", "fees_paid"],
        rows=rows,
        summary=f"{len(rows)} market positions, {len(collected.extra)} event positions; "
        + _stored_text(stored),
    )


# ------------------------------------------------------------------ fills
@fetch_app.command("fills")
def fills_command(
    ticker: str | None = typer.Option(None, "--ticker", help="Only this market."),
    dry_run: bool = DRY_RUN,
    as_json: bool = AS_JSON,
    limit: int = LIMIT,
    all_rows: bool = ALL_ROWS,
) -> None:
    """Fetch every fill, history included, and append the new ones (idempotent on the id)."""
    _run(_fetch_fills(ticker, dry_run, _output(as_json, limit, all_rows)))


async def _fetch_fills(ticker: str | None, dry_run: bool, out: Output) -> None:
    async def work(collector: AccountCollector) -> Any:
        with _progress("fills") as progress:
            return await collector.fills(ticker, _page_counter(progress, "fills"))

    collected = await _collect(dry_run, work)
    stored = _stored(collected.stored)
    sideless = collected.extra
    rows = [_record(f) for f in collected.items]
    _emit(
        out,
        {"fills": rows, "stored": stored, "skipped_without_side": sideless},
        title="Kalshi fills",
        columns=["fill_id", "ticker", "outcome_side", "count", "yes_price", "created_time"],
        rows=rows,
        summary=f"{len(rows)} fills; {_stored_text(stored)}"
        + (f"; {len(sideless)} fills without a side skipped" if sideless else ""),
    )


# ------------------------------------------------------------------ settlements
@fetch_app.command("settlements")
def settlements_command(
    ticker: str | None = typer.Option(None, "--ticker", help="Only this market."),
    dry_run: bool = DRY_RUN,
    as_json: bool = AS_JSON,
    limit: int = LIMIT,
    all_rows: bool = ALL_ROWS,
) -> None:
    """Fetch settlements, append the new ones and move their markets to `finalized`."""
    _run(_fetch_settlements(ticker, dry_run, _output(as_json, limit, all_rows)))


async def _fetch_settlements(ticker: str | None, dry_run: bool, out: Output) -> None:
    async def work(collector: AccountCollector) -> Any:
        with _progress("settlements") as progress:
            return await collector.settlements(ticker, _page_counter(progress, "settlements"))

    collected = await _collect(dry_run, work)
    stored = _stored(collected.stored)
    rows = [_record(s) for s in collected.items]
    summary = f"{len(rows)} settlements; {_stored_text(stored)}"
    if not rows:
        summary = "no settlements" + ("" if stored is None else "; nothing stored")
    _emit(
        out,
        {"settlements": rows, "stored": stored},
        title="Kalshi settlements",
        columns=["ticker", "market_result", "revenue", "fee_cost", "settled_time"],
        rows=rows,
        summary=summary,
    )


__all__ = ["fetch_app", "register"]
