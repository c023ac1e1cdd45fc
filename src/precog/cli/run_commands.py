"""`precog run`: the collection service (market data manager, account collector, and the
game-state poller for the configured ESPN leagues).

Setup, in order: the database (an EMPTY embedded database is migrated automatically, with
one log line; any other database that is behind is refused with "run precog db upgrade"),
the Kalshi target (the in-process sandbox, whose market moves on its own, unless
`KALSHI_MODE`/`KALSHI_API_BASE_URL` say otherwise), the WebSocket on the same target, ESPN
(`ESPN_API_BASE_URL`, else the in-process sandbox's ESPN simulator, else the public API;
`--no-games` leaves games out), then the service. Markets followed: `--tickers`, else
`--series`, else the configured series; the in-process sandbox has none of the real
series, so there it follows every market unless told otherwise.

While it runs: a live Rich view (markets, prices with the direction of the last change and
their source, stale markets, counters) refreshed four times a second, or with `--no-ui` a
status log line every few seconds. Ctrl-C / SIGTERM / `--duration` stop it gracefully: the
sources stop, the persistence queue is flushed, and a summary is printed (`--json`: as JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import RenderableType

    from precog.schedulers.collection_service import CollectionService
    from precog.schedulers.game_state_poller import GameStatePoller
    from precog.schedulers.market_data_manager import MarketDataManager

logger = logging.getLogger("precog.run")

STATUS_EVERY = 5.0  # seconds between status lines with --no-ui
VIEW_ROWS = 15
ARROWS = {1: "▲", -1: "▼", 0: "·"}


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def run_command(  # noqa: PLR0917 (Typer maps each option to a parameter)
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    no_ui: bool = typer.Option(False, "--no-ui", help="Log lines only, no live view."),
    series: str = typer.Option("", "--series", help="Comma-separated series to follow."),
    tickers: str = typer.Option("", "--tickers", help="Comma-separated markets to follow."),
    sandbox_markets: int = typer.Option(
        50, "--sandbox-markets", min=1, help="Markets of the in-process sandbox."
    ),
    no_games: bool = typer.Option(False, "--no-games", help="Do not follow ESPN games."),
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON."),
) -> None:
    """Run the collection service: stream + polling into the database, live view."""
    from precog.utils import event_loop

    event_loop.run(
        _run(
            duration=duration,
            ui=not (no_ui or as_json),
            series=_split(series),
            tickers=_split(tickers),
            sandbox_markets=sandbox_markets,
            games=not no_games,
            as_json=as_json,
        )
    )


async def _database() -> Any:
    """The open database; an empty embedded one is migrated first."""
    from precog.config.environment import resolve_database_target, resolve_environment
    from precog.database import migrate
    from precog.database.connection import Database, resolve_conninfo

    target = resolve_database_target(os.environ)
    if target.url is None:
        env = resolve_environment(os.environ)
        conninfo = await asyncio.to_thread(resolve_conninfo, target, env)
        if await asyncio.to_thread(migrate.current_revision, conninfo) is None:
            logger.info("empty embedded database %s: applying the migrations", target.dbname)
            await asyncio.to_thread(migrate.upgrade, conninfo)
    db = await Database.open(os.environ)
    try:
        await db.require_current_schema()
    except BaseException:
        await db.close()
        raise
    return db


async def _run(
    *,
    duration: float | None,
    ui: bool,
    series: tuple[str, ...],
    tickers: tuple[str, ...],
    sandbox_markets: int,
    games: bool,
    as_json: bool,
) -> None:
    from precog.api_connectors.espn_client import EspnClient
    from precog.api_connectors.kalshi_session import kalshi_session
    from precog.config.config_loader import ConfigLoader
    from precog.schedulers.account_collector import AccountCollector
    from precog.schedulers.collection_service import CollectionService, Collector
    from precog.schedulers.game_state_poller import GameStatePoller
    from precog.schedulers.kalshi_poller import MarketSelection
    from precog.schedulers.kalshi_websocket import KalshiWebSocket, kalshi_ws_url
    from precog.schedulers.market_data_manager import MarketDataManager, database_writer
    from precog.schedulers.periodic import PeriodicJob
    from precog.utils import event_loop

    sources = ConfigLoader().settings.data_sources
    settings, espn_settings = sources.kalshi, sources.espn
    games = games and bool(espn_settings.leagues)
    db = await _database()
    async with (
        contextlib.AsyncExitStack() as stack,
        db,
        kalshi_session(os.environ, sandbox_markets=sandbox_markets, sandbox_tick=1.0) as session,
    ):
        # Fail fast (exit 4, one line) when the exchange cannot be reached at all, instead of
        # starting a service whose every poll fails.
        await session.client.get_exchange_status()
        if tickers:
            selection = MarketSelection(tickers=tickers)
        elif series:
            selection = MarketSelection(series=series)
        elif session.local is not None:
            selection = MarketSelection()  # the sandbox has none of the configured series
        else:
            selection = MarketSelection(series=tuple(settings.series))
        url = kalshi_ws_url(session.mode, os.environ, session.client.base_url)
        stream = None if url is None else KalshiWebSocket(url, session.signer)
        manager = MarketDataManager(
            session.client,
            stream=stream,
            writer=database_writer(db),
            selection=selection,
            poll_interval=float(settings.poll_interval_seconds),
            stale_after=float(settings.stale_after_seconds),
        )
        account = AccountCollector(session.client, db)
        collectors: list[Collector] = [PeriodicJob("account", account.collect, interval=60.0)]
        poller = None
        if games:
            espn_url = _espn_base_url(session.local)
            espn = await stack.enter_async_context(
                EspnClient(espn_url, requests_per_second=float(espn_settings.requests_per_second))
            )
            poller = GameStatePoller.from_settings(espn, db, espn_settings)
            collectors.append(poller)
            logger.info("precog run: following %s games on %s", ", ".join(poller.leagues), espn_url)
        service = CollectionService(manager, collectors)
        logger.info(
            "precog run: following %s on %s (stream %s)",
            selection.describe(),
            session.client.base_url,
            url or "unavailable",
        )
        stop = asyncio.Event()
        event_loop.call_on_stop_signal(asyncio.get_running_loop(), stop.set)
        display = asyncio.create_task(_live_view(manager, poller) if ui else _status_lines(manager))
        try:
            await service.run(stop, duration)
        finally:
            display.cancel()
            await asyncio.gather(display, return_exceptions=True)
    _print_summary(service, as_json)


def _espn_base_url(local: Any) -> str:
    """ESPN_API_BASE_URL, else the in-process sandbox's simulator, else the public API."""
    from precog.api_connectors.espn_client import BASE_URL_VARIABLE, PUBLIC_BASE_URL

    configured = os.environ.get(BASE_URL_VARIABLE, "").strip()
    if configured:
        return configured
    return str(local.server.espn_base_url) if local is not None else PUBLIC_BASE_URL


# ------------------------------------------------------------------------------ output
def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _view(manager: MarketDataManager, poller: GameStatePoller | None = None) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    quotes = sorted(manager.cache.values(), key=lambda q: q.updated, reverse=True)[:VIEW_ROWS]
    stale = set(manager.stale_tickers())
    table = Table(title=f"{len(manager.cache)} markets followed (latest changes first)")
    for column in ("ticker", "yes bid", "yes ask", "last", "", "source", "status"):
        table.add_column(
            column, justify="right" if column in ("yes bid", "yes ask", "last") else "left"
        )
    for q in quotes:
        table.add_row(
            q.ticker,
            _money(q.yes_bid),
            _money(q.yes_ask),
            _money(q.last_price),
            ARROWS[q.direction],
            "stale" if q.ticker in stale else q.source,
            q.status,
        )
    s = manager.summary()
    counters = Text(
        f"stream {'up' if s['stream_up'] else 'down'} | messages {s.get('stream_messages', 0)} | "
        f"versions written {s.get('versions_written', 0)} | failovers {s['failovers']} | "
        f"queue {s.get('queue_depth', 0)} | reconnects {s.get('reconnects', 0)} | "
        f"stale {s['stale']} | errors {s['poll_failures'] + s.get('write_failures', 0)}"
    )
    if poller is None:
        return Group(table, counters)
    return Group(table, counters, _games_view(poller))


def _games_view(poller: GameStatePoller) -> RenderableType:
    from rich.table import Table

    live = poller.live_games
    table = Table(title=f"{len(live)} live games ({', '.join(poller.leagues)})")
    for column in ("league", "away", "home", "score", "status", "clock"):
        table.add_column(column)
    for game in live[:VIEW_ROWS]:
        table.add_row(
            game.league,
            (game.away.team.abbreviation if game.away.team else None) or "TBD",
            (game.home.team.abbreviation if game.home.team else None) or "TBD",
            f"{game.away.score}-{game.home.score}",
            game.status,
            game.status_detail or game.display_clock or "",
        )
    return table


async def _live_view(manager: MarketDataManager, poller: GameStatePoller | None) -> None:
    from rich.console import Console
    from rich.live import Live

    with Live(_view(manager, poller), console=Console(stderr=True), refresh_per_second=4) as live:
        while True:
            await asyncio.sleep(0.25)
            live.update(_view(manager, poller))


async def _status_lines(manager: MarketDataManager) -> None:
    while True:
        await asyncio.sleep(STATUS_EVERY)
        s = manager.summary()
        logger.info(
            "%d markets, %d stale, stream %s, %d stream updates, %d polls, %d versions written, "
            "queue %d",
            s["markets"],
            s["stale"],
            "up" if s["stream_up"] else "down",
            s["stream_updates"],
            s["polls"],
            s.get("versions_written", 0),
            s.get("queue_depth", 0),
        )


def _print_summary(service: CollectionService, as_json: bool) -> None:
    summary = service.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    m = summary["markets"]
    typer.echo(
        f"precog run stopped: {m['markets']} markets followed, {m['versions_written']} versions "
        f"written ({m['unchanged']} unchanged), {m['stream_updates']} stream updates, "
        f"{m['polls']} polls, {m['failovers']} failovers, {m['mismatches']} reconciliation "
        f"mismatches corrected, {m['dropped']} updates dropped, {m['unflushed']} unflushed"
    )
    account = summary.get("account", {})
    typer.echo(f"account: {account.get('cycles', 0)} cycles, {account.get('failures', 0)} failed")
    games = summary.get("games")
    if games is not None:
        typer.echo(
            f"games: {games['polls']} polls, {games['games_seen']} games seen, "
            f"{games['versions_written']} versions written, {games['failed_polls']} failed polls"
        )


__all__ = ["register"]
