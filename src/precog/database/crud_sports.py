"""Data access for live games: ESPN games -> teams, venues and `game_states` SCD2 versions.

Built on the table functions of `crud_operations` (teams and venues upserted in place,
game states through the one SCD2 writer); this module adds what the ESPN side needs on
top: turning parsed `Game` records into rows in one transaction (`record_games`), the
tracked state of a game for change detection (`tracked_state`), and the history of one
ESPN event id whatever its league (`find_game_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from precog.api_connectors.espn_models import Game, Team
from precog.database import crud_operations as crud
from precog.database.records import (
    GameStateRow,
    GameStateSnapshot,
    TeamInput,
    TeamRow,
    VenueInput,
)
from precog.database.scd2 import UpsertResult
from precog.errors import ConfigError

Conn = AsyncConnection[Any]


def _team_input(league: str, team: Team) -> TeamInput:
    return TeamInput(
        league=league,
        espn_team_id=team.espn_team_id,
        display_name=team.display_name,
        abbreviation=team.abbreviation,
        location=team.location,
        name=team.name,
        color=team.color,
        alternate_color=team.alternate_color,
    )


def tracked_state(game: Game) -> tuple[Any, ...]:
    """Everything of a game that `game_states` versions (a new version iff this changes)."""
    return (
        game.home.team.espn_team_id if game.home.team else None,
        game.away.team.espn_team_id if game.away.team else None,
        game.venue.espn_venue_id if game.venue else None,
        game.start_time,
        game.season_type,
        game.status,
        game.period,
        game.clock_seconds,
        game.display_clock,
        game.home.score,
        game.away.score,
        game.situation,
    )


async def record_games(conn: Conn, games: Sequence[Game], observed_at: dt.datetime) -> UpsertResult:
    """Upsert the games' teams and venues and write their states, in one transaction.

    A new `game_states` version is written only for a game whose tracked state changed
    (the SCD2 writer compares); `observed_at` is when the scoreboard was received (ESPN
    sends no per-event timestamp).
    """
    if not games:
        return UpsertResult()
    teams = [
        _team_input(g.league, side.team) for g in games for side in (g.home, g.away) if side.team
    ]
    venues = [
        VenueInput(v.espn_venue_id, v.name, v.city, v.state, v.country, v.indoor)
        for v in (g.venue for g in games)
        if v is not None
    ]
    async with conn.transaction():
        team_ids = await crud.upsert_teams(conn, teams)
        venue_ids = await crud.upsert_venues(conn, venues)

        def team_id(league: str, team: Team | None) -> int | None:
            return team_ids[(league, team.espn_team_id)] if team else None

        snapshots = [
            GameStateSnapshot(
                league=g.league,
                espn_event_id=g.event_id,
                status=g.status,
                observed_at=observed_at,
                home_team_id=team_id(g.league, g.home.team),
                away_team_id=team_id(g.league, g.away.team),
                venue_id=venue_ids[g.venue.espn_venue_id] if g.venue else None,
                start_time=g.start_time,
                season_type=g.season_type,
                period=g.period,
                clock_seconds=g.clock_seconds,
                display_clock=g.display_clock,
                home_score=g.home.score,
                away_score=g.away.score,
                situation=g.situation.as_json() if g.situation else None,
            )
            for g in games
        ]
        return await crud.upsert_game_states(conn, snapshots)


@dataclass(frozen=True)
class GameHistory:
    """The versions of one game plus the teams they refer to."""

    league: str
    espn_event_id: str
    versions: list[GameStateRow]
    teams: dict[int, TeamRow]


async def find_game_history(
    conn: Conn, espn_event_id: str, league: str | None = None
) -> GameHistory | None:
    """Every version of ESPN event `espn_event_id` (None if never recorded).

    Event ids are unique per league; an id recorded in several leagues needs `league`.
    """
    cur = await conn.execute(
        "SELECT league FROM game_states_keys WHERE espn_event_id = %s "
        "AND (%s::text IS NULL OR league = %s) ORDER BY league",
        (espn_event_id, league, league),
    )
    leagues = [str(row[0]) for row in await cur.fetchall()]
    if not leagues:
        return None
    if len(leagues) > 1:
        raise ConfigError(
            f"event {espn_event_id} exists in several leagues ({', '.join(leagues)}); pass --league"
        )
    versions = await crud.get_game_state_history(conn, leagues[0], espn_event_id)
    ids = sorted({i for v in versions for i in (v.home_team_id, v.away_team_id) if i})
    teams = {t.team_id: t for t in await crud.list_teams(conn, leagues[0]) if t.team_id in ids}
    return GameHistory(leagues[0], espn_event_id, versions, teams)


__all__ = ["GameHistory", "find_game_history", "record_games", "tracked_state"]
