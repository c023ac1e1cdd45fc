"""`precog espn scores` (live scoreboards) and `precog games history` (recorded game states).

ESPN target: `ESPN_API_BASE_URL` if set; otherwise, in `sandbox` Kalshi mode (the default)
the sandbox's ESPN simulator is started in-process on loopback, so nothing goes to the
network; in `demo`/`live` mode the public ESPN site API. Leagues default to
`data_sources.espn.leagues`, the request rate is `data_sources.espn.requests_per_second`.

Exit codes: 2 for an unknown league or a bad date, 4 when ESPN cannot be reached after the
retries, 1 when ESPN refuses the request (4xx).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import typer

from precog.utils import event_loop

if TYPE_CHECKING:
    from precog.api_connectors.espn_client import EspnClient
    from precog.api_connectors.espn_models import Game

espn_app = typer.Typer(help="ESPN scoreboards.", no_args_is_help=True)
games_app = typer.Typer(help="Recorded games (game_states history).", no_args_is_help=True)

AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def register(app: typer.Typer) -> None:
    app.add_typer(espn_app, name="espn")
    app.add_typer(games_app, name="games")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@asynccontextmanager
async def espn_session(environ: Mapping[str, str], rate: float) -> AsyncIterator[EspnClient]:
    """An open ESPN client for the configured target (starting the simulator if needed)."""
    from precog.api_connectors.espn_client import BASE_URL_VARIABLE, PUBLIC_BASE_URL, EspnClient
    from precog.config.config_loader import ConfigLoader
    from precog.config.environment import KalshiMode, resolve_kalshi_mode

    base_url = environ.get(BASE_URL_VARIABLE)
    server = None
    if not base_url:
        mode = resolve_kalshi_mode(environ, ConfigLoader().settings.data_sources.kalshi.mode)
        if mode is KalshiMode.SANDBOX:
            from precog.sandbox.server import SandboxServer

            server = SandboxServer(markets=0)
            await server.start()
            base_url = server.espn_base_url
        else:
            base_url = PUBLIC_BASE_URL
    try:
        async with EspnClient(base_url, requests_per_second=rate) as client:
            yield client
    finally:
        if server is not None:
            await server.stop()


def _parse_date(value: str) -> dt.date:
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    from precog.errors import ConfigError

    raise ConfigError(f"--date {value!r} is not a date; use YYYY-MM-DD or YYYYMMDD")


def _row(game: Game) -> dict[str, Any]:
    def side(c: Any) -> str:
        return c.team.abbreviation or c.team.display_name if c.team else "TBD"

    return {
        "league": game.league,
        "event_id": game.event_id,
        "away": side(game.away),
        "home": side(game.home),
        "score": "" if game.status == "pre" else f"{game.away.score}-{game.home.score}",
        "status": game.status,
        "detail": game.status_detail,
        "start_time": _plain(game.start_time),
    }


@espn_app.command("scores")
def scores(
    league: Annotated[
        list[str] | None,
        typer.Option("--league", help="nfl | ncaaf | nba | ncaab | nhl | wnba (repeatable)."),
    ] = None,
    date: Annotated[
        str | None, typer.Option("--date", help="Day (YYYY-MM-DD); default ESPN's today.")
    ] = None,
    live: bool = typer.Option(False, "--live", help="Only games in progress."),
    as_json: bool = AS_JSON,
) -> None:
    """Show the scoreboards of the configured (or given) leagues."""
    from precog.api_connectors.espn_models import LEAGUES
    from precog.config.config_loader import ConfigLoader
    from precog.errors import ConfigError

    settings = ConfigLoader().settings.data_sources.espn
    leagues = list(dict.fromkeys(league or settings.leagues))
    unknown = [lg for lg in leagues if lg not in LEAGUES]
    if unknown:
        raise ConfigError(f"unknown league {unknown[0]!r}; use one of: {', '.join(LEAGUES)}")
    day = _parse_date(date) if date else None

    async def fetch() -> tuple[list[Game], int]:
        games: list[Game] = []
        errors = 0
        async with espn_session(os.environ, settings.requests_per_second) as client:
            for name in leagues:
                board = await client.get_scoreboard(name, dates=day)
                games.extend(board.games)
                errors += len(board.errors)
        return games, errors

    games, errors = event_loop.run(fetch())
    if live:
        games = [g for g in games if g.is_live]
    if as_json:
        payload = {"games": [_plain(g) for g in games], "malformed_events": errors}
        typer.echo(json.dumps(payload, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if games:
        table = Table(title="ESPN scoreboard")
        columns = ["league", "event_id", "away", "home", "score", "status", "detail", "start_time"]
        for column in columns:
            table.add_column(column)
        for game in games:
            row = _row(game)
            table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
        console.print(table)
    summary = f"{len(games)} {'live ' if live else ''}games in {', '.join(leagues)}"
    if errors:
        summary += f"; {errors} malformed events skipped"
    console.print(summary)


@games_app.command("history")
def history(
    event_id: Annotated[str, typer.Argument(help="ESPN event id.")],
    league: Annotated[
        str | None, typer.Option("--league", help="Needed only if the id is in two leagues.")
    ] = None,
    as_json: bool = AS_JSON,
) -> None:
    """Show every recorded state (SCD2 version) of one game."""
    from precog.database.connection import Database
    from precog.database.crud_operations.sports import GameHistory, find_game_history

    async def load() -> GameHistory | None:
        db = await Database.open(os.environ)
        async with db:
            await db.require_current_schema()
            async with db.connection() as conn:
                return await find_game_history(conn, event_id, league)

    found = event_loop.run(load())
    versions = found.versions if found else []
    teams = found.teams if found else {}

    def team(team_id: int | None) -> str | None:
        row = teams.get(team_id) if team_id else None
        return (row.abbreviation or row.display_name) if row else None

    records = [
        {**_plain(dataclasses.asdict(v)), "home_team": team(v.home_team_id),
         "away_team": team(v.away_team_id)}
        for v in versions
    ]  # fmt: skip
    if as_json:
        payload = {
            "event_id": event_id,
            "league": found.league if found else league,
            "versions": records,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    if not records:
        typer.echo(f"no game states recorded for ESPN event {event_id}")
        return
    for r in records:
        period = f"{r['row_start_ts']} -> {r['row_end_ts'] or 'current'}"
        score = f"{r['away_team'] or '?'} {r['away_score']} @ {r['home_team'] or '?'} "
        score += f"{r['home_score']}"
        clock = f"P{r['period']} {r['display_clock']}" if r["period"] else ""
        typer.echo(f"{period}  {r['status']:<13} {score}  {clock}".rstrip())


__all__ = ["espn_app", "espn_session", "games_app", "register"]
