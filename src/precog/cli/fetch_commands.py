"""`precog fetch balance|markets|positions|fills|settlements`: pull Kalshi data and store it.

Each command talks to the configured Kalshi target (KALSHI_MODE / data_sources.kalshi.mode,
KALSHI_API_BASE_URL overrides the URL; in `sandbox` mode without a URL an in-process sandbox
exchange is started on loopback with a generated key) and persists through
`precog.database.crud_operations` unless `--dry-run`:

- balance: a new SCD2 version of the account balance only when it changed;
- markets: every page is upserted as SCD2 versions (series and events created from the
  exchange's event data); a progress bar on stderr follows the pages;
- positions: SCD2 versions per (ticker, side); a side that went flat is written as 0, and
  a position the exchange no longer reports (settled) is closed the same way;
- fills: live and historical (older than Kalshi's cutoff), appended, idempotent on the
  fill id;
- settlements: appended, idempotent, and their markets move to `finalized`.

`--json` prints machine-readable output (Decimals as exact strings); otherwise a Rich table.
Errors exit with the codes of SPEC §2: missing credentials 2, refused credentials 1 (with
the server's reason), exchange unreachable after retries 4.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.api_connectors.kalshi_models import Market
    from precog.database.connection import Database

T = TypeVar("T")

fetch_app = typer.Typer(help="Fetch Kalshi data and store it.", no_args_is_help=True)

DRY_RUN = typer.Option(False, "--dry-run", help="Fetch and print, but store nothing.")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
EVENT_BATCH = 100  # event tickers per GET /events lookup


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
async def kalshi_session(environ: Mapping[str, str]) -> AsyncIterator[KalshiClient]:
    """An open client for the configured target (starting the local sandbox if needed)."""
    from precog.api_connectors.kalshi_auth import KalshiSigner
    from precog.api_connectors.kalshi_client import KalshiClient, kalshi_base_url
    from precog.api_connectors.rate_limiter import Tier
    from precog.config.config_loader import ConfigLoader
    from precog.config.environment import (
        check_kalshi_safety,
        resolve_environment,
        resolve_kalshi_mode,
    )

    settings = ConfigLoader().settings.data_sources.kalshi
    env = resolve_environment(environ)
    mode = resolve_kalshi_mode(environ, settings.mode)
    check_kalshi_safety(env, mode, environ)
    base_url = kalshi_base_url(mode, environ)
    local = None
    if base_url is None:  # sandbox mode, no URL: run the exchange in this process
        from precog.sandbox.local import start_local_sandbox

        local = await start_local_sandbox(environ)
        base_url, signer = local.base_url, local.signer
    else:
        signer = KalshiSigner.from_environment(environ)
    try:
        async with KalshiClient(
            base_url, signer=signer, tier=Tier(settings.rate_limit_tier)
        ) as client:
            yield client
    finally:
        if local is not None:
            await local.stop()


async def _with_database(dry_run: bool, work: Callable[[Database | None], Awaitable[T]]) -> T:
    if dry_run:
        return await work(None)
    from precog.database.connection import Database

    db = await Database.open(os.environ)
    async with db:
        await db.require_current_schema()
        return await work(db)


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


def _emit(
    as_json: bool,
    payload: dict[str, Any],
    *,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    summary: str,
) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if rows:
        table = Table(title=title)
        for column in columns:
            table.add_column(column, justify="right" if column in _NUMERIC else "left")
        for row in rows:
            table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
        console.print(table)
    console.print(summary)


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
    _run(_fetch_balance(dry_run, as_json))


async def _fetch_balance(dry_run: bool, as_json: bool) -> None:
    from precog.database import crud_operations as crud
    from precog.database.records import BalanceSnapshot

    async with kalshi_session(os.environ) as client:
        balance = await client.get_balance()
    observed = dt.datetime.now(dt.UTC)

    async def store(db: Database | None) -> Any:
        if db is None:
            return None
        snapshot = BalanceSnapshot(
            balance=balance.balance, portfolio_value=balance.portfolio_value, observed_at=observed
        )
        async with db.connection() as conn:
            return await crud.upsert_balances(conn, [snapshot])

    stored = _stored(await _with_database(dry_run, store))
    record = _record(balance)
    _emit(
        as_json,
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
) -> None:
    """Fetch every market (all pages) and upsert them as SCD2 versions."""
    _run(
        _fetch_markets(
            status=status,
            series_ticker=series_ticker,
            event_ticker=event_ticker,
            page_size=page_size,
            dry_run=dry_run,
            as_json=as_json,
        )
    )


async def _event_parents(
    client: KalshiClient, markets: Sequence[Market], known: dict[str, tuple[str, str]]
) -> None:
    """Fill `known` (event_ticker -> (series_ticker, event title)) from the exchange."""
    from precog.api_connectors.errors import NotFoundError

    missing = sorted({m.event_ticker for m in markets} - known.keys())
    for start in range(0, len(missing), EVENT_BATCH):
        chunk = missing[start : start + EVENT_BATCH]
        async for event in client.iter_events(tickers=chunk):
            known[event.event_ticker] = (event.series_ticker, event.title)
        for ticker in chunk:
            if ticker not in known:  # e.g. multivariate events are not listed by GET /events
                try:
                    event = await client.get_event(ticker)
                except NotFoundError:
                    continue
                known[ticker] = (event.series_ticker, event.title)


async def _fetch_markets(
    *,
    status: str | None,
    series_ticker: str | None,
    event_ticker: str | None,
    page_size: int,
    dry_run: bool,
    as_json: bool,
) -> None:
    from precog.database import crud_operations as crud
    from precog.database.records import MarketSnapshot
    from precog.database.scd2 import UpsertResult

    markets: list[Market] = []
    skipped: list[str] = []
    parse_errors = 0

    async def fetch_and_store(db: Database | None) -> UpsertResult | None:
        nonlocal parse_errors
        total = None if db is None else UpsertResult()
        parents: dict[str, tuple[str, str]] = {}
        async with kalshi_session(os.environ) as client:
            series_titles = {s.ticker: s.title for s in (await client.list_series()).items}
            with _progress("markets") as progress:
                task = progress.add_task("markets", total=None, pages=0)
                pages = client.iter_market_pages(
                    limit=page_size,
                    status=status,
                    series_ticker=series_ticker,
                    event_ticker=event_ticker,
                )
                async for page in pages:
                    parse_errors += len(page.errors)
                    markets.extend(page.items)
                    progress.update(
                        task, advance=len(page.items), pages=progress.tasks[0].fields["pages"] + 1
                    )
                    if db is None or total is None:
                        continue
                    await _event_parents(client, page.items, parents)
                    observed = dt.datetime.now(dt.UTC)
                    snapshots = []
                    for m in page.items:
                        if m.event_ticker not in parents:
                            skipped.append(m.ticker)
                            continue
                        series, event_title = parents[m.event_ticker]
                        snapshots.append(
                            MarketSnapshot(
                                ticker=m.ticker, event_ticker=m.event_ticker,
                                series_ticker=series, status=m.status, observed_at=observed,
                                title=m.title, subtitle=m.subtitle or m.yes_sub_title,
                                yes_bid=m.yes_bid, yes_ask=m.yes_ask, no_bid=m.no_bid,
                                no_ask=m.no_ask, last_price=m.last_price, volume=m.volume,
                                open_interest=m.open_interest, open_time=m.open_time,
                                close_time=m.close_time, result=m.result or None,
                                settlement_value=m.settlement_value, event_title=event_title,
                                series_title=series_titles.get(series),
                            )
                        )  # fmt: skip
                    async with db.connection() as conn:
                        total = total + await crud.upsert_markets(conn, snapshots)
        return total

    stored = _stored(await _with_database(dry_run, fetch_and_store))
    rows = [_record(m) for m in markets]
    summary = f"{len(markets)} markets fetched; {_stored_text(stored)}"
    if parse_errors:
        summary += f"; {parse_errors} malformed records skipped"
    if skipped:
        summary += f"; {len(skipped)} markets without a known event skipped"
    _emit(
        as_json,
        {"markets": rows, "stored": stored, "parse_errors": parse_errors, "skipped": skipped},
        title="Kalshi markets",
        columns=["ticker", "status", "yes_bid", "yes_ask", "last_price", "volume", "close_time"],
        rows=rows,
        summary=summary,
    )


# ------------------------------------------------------------------ positions
@fetch_app.command("positions")
def positions_command(dry_run: bool = DRY_RUN, as_json: bool = AS_JSON) -> None:
    """Fetch open positions (market and event level); store changes as SCD2 versions."""
    _run(_fetch_positions(dry_run, as_json))


async def _fetch_positions(dry_run: bool, as_json: bool) -> None:
    from precog.api_connectors.kalshi_models import EventPosition, MarketPosition
    from precog.database import crud_operations as crud
    from precog.database.records import PositionSnapshot

    market_positions: list[MarketPosition] = []
    event_positions: list[EventPosition] = []
    async with kalshi_session(os.environ) as client:
        with _progress("positions") as progress:
            task = progress.add_task("positions", total=None, pages=0)
            async for page in client.iter_position_pages(limit=1000):
                market_positions.extend(page.market_positions)
                event_positions.extend(page.event_positions)
                progress.update(
                    task,
                    advance=len(page.market_positions),
                    pages=progress.tasks[0].fields["pages"] + 1,
                )
    observed = dt.datetime.now(dt.UTC)

    async def store(db: Database | None) -> Any:
        if db is None:
            return None
        async with db.connection() as conn:
            held = {(p.ticker, p.side) for p in await crud.get_current_positions(conn)}
            snapshots = []
            for p in market_positions:
                side = "yes" if p.position > 0 else "no" if p.position < 0 else None
                for other in ("yes", "no"):
                    if other == side:
                        snapshots.append(
                            PositionSnapshot(
                                ticker=p.ticker, side=side, quantity=abs(p.position),
                                observed_at=observed, market_exposure=p.market_exposure,
                                total_traded=p.total_traded, realized_pnl=p.realized_pnl,
                                fees_paid=p.fees_paid,
                            )
                        )  # fmt: skip
                    elif (p.ticker, other) in held:  # that side went flat
                        snapshots.append(
                            PositionSnapshot(
                                ticker=p.ticker, side=other, quantity=Decimal("0.00"),
                                observed_at=observed, market_exposure=Decimal(0),
                                total_traded=p.total_traded, realized_pnl=p.realized_pnl,
                                fees_paid=p.fees_paid,
                            )
                        )  # fmt: skip
            # Every side of every reported ticker is handled above; positions missing from
            # the answer were settled (Kalshi drops them, reference A4.10): close them too,
            # in the same transaction.
            reported = {(p.ticker, side) for p in market_positions for side in ("yes", "no")}
            async with conn.transaction():
                result = await crud.upsert_positions(conn, snapshots)
                return result + await crud.close_missing_positions(conn, reported, observed)

    stored = _stored(await _with_database(dry_run, store))
    rows = [_record(p) for p in market_positions]
    _emit(
        as_json,
        {
            "market_positions": rows,
            "event_positions": [_record(e) for e in event_positions],
            "stored": stored,
        },
        title="Kalshi positions",
        columns=["ticker", "position", "market_exposure", "realized_pnl", "fees_paid"],
        rows=rows,
        summary=f"{len(rows)} market positions, {len(event_positions)} event positions; "
        + _stored_text(stored),
    )


# ------------------------------------------------------------------ fills
@fetch_app.command("fills")
def fills_command(
    ticker: str | None = typer.Option(None, "--ticker", help="Only this market."),
    dry_run: bool = DRY_RUN,
    as_json: bool = AS_JSON,
) -> None:
    """Fetch every fill, history included, and append the new ones (idempotent on the id)."""
    _run(_fetch_fills(ticker, dry_run, as_json))


async def _fetch_fills(ticker: str | None, dry_run: bool, as_json: bool) -> None:
    from precog.api_connectors.kalshi_models import Fill
    from precog.database import crud_operations as crud
    from precog.database.records import FillInput

    fills: list[Fill] = []
    async with kalshi_session(os.environ) as client:
        with _progress("fills") as progress:
            task = progress.add_task("fills", total=None, pages=0)
            # Live fills, then the history before Kalshi's cutoff (GET /historical/fills).
            async for page in client.iter_all_fill_pages(limit=1000, ticker=ticker):
                fills.extend(page.items)
                progress.update(
                    task, advance=len(page.items), pages=progress.tasks[0].fields["pages"] + 1
                )
    # A fill must say which exposure it gained; one that does not is reported, not guessed.
    sideless = [f.fill_id for f in fills if f.outcome_side is None]

    async def store(db: Database | None) -> Any:
        if db is None:
            return None
        inputs = [
            FillInput(
                venue_fill_id=f.fill_id, ticker=f.ticker, outcome_side=f.outcome_side,
                count=f.count, yes_price=f.yes_price, no_price=f.no_price,
                created_time=f.created_time, order_id=f.order_id, book_side=f.book_side,
                action=f.action, fee_cost=f.fee_cost, is_taker=f.is_taker,
            )
            for f in fills
            if f.outcome_side is not None
        ]  # fmt: skip
        async with db.connection() as conn:
            return await crud.insert_fills(conn, inputs)

    stored = _stored(await _with_database(dry_run, store))
    rows = [_record(f) for f in fills]
    _emit(
        as_json,
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
) -> None:
    """Fetch settlements, append the new ones and move their markets to `finalized`."""
    _run(_fetch_settlements(ticker, dry_run, as_json))


async def _fetch_settlements(ticker: str | None, dry_run: bool, as_json: bool) -> None:
    from precog.api_connectors.kalshi_models import Settlement
    from precog.database import crud_operations as crud
    from precog.database.records import InsertResult, SettlementInput

    settlements: list[Settlement] = []
    async with kalshi_session(os.environ) as client:
        with _progress("settlements") as progress:
            task = progress.add_task("settlements", total=None, pages=0)
            async for page in client.iter_settlement_pages(limit=1000, ticker=ticker):
                settlements.extend(page.items)
                progress.update(
                    task, advance=len(page.items), pages=progress.tasks[0].fields["pages"] + 1
                )

    async def store(db: Database | None) -> Any:
        if db is None or not settlements:
            return None if db is None else InsertResult(0, 0)
        inputs = [
            SettlementInput(
                ticker=s.ticker, market_result=s.market_result, revenue=s.revenue,
                settled_time=s.settled_time, event_ticker=s.event_ticker,
                yes_count=s.yes_count, no_count=s.no_count, yes_total_cost=s.yes_total_cost,
                no_total_cost=s.no_total_cost, fee_cost=s.fee_cost, value=s.value,
            )
            for s in settlements
        ]  # fmt: skip
        async with db.connection() as conn:
            return await crud.insert_settlements(conn, inputs)

    stored = _stored(await _with_database(dry_run, store))
    rows = [_record(s) for s in settlements]
    summary = f"{len(rows)} settlements; {_stored_text(stored)}"
    if not rows:
        summary = "no settlements" + ("" if stored is None else "; nothing stored")
    _emit(
        as_json,
        {"settlements": rows, "stored": stored},
        title="Kalshi settlements",
        columns=["ticker", "market_result", "revenue", "fee_cost", "settled_time"],
        rows=rows,
        summary=summary,
    )


__all__ = ["fetch_app", "kalshi_session", "register"]
