"""Sports: teams, venues and rankings (insert or update in place) and `game_states` (SCD2);
then what the ESPN side needs on top: parsed `Game` records into rows in one transaction
(`record_games`), the tracked state of a game for change detection (`tracked_state`), and
the history of one ESPN event id whatever its league (`find_game_history`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from precog.api_connectors.espn_models import Game, Team
from precog.database.crud_operations._common import (
    GAME_STATES,
    Conn,
    _arrays,
    _columns,
    _fetch,
    _fetch_one,
    _transaction,
    _unnest,
    _write,
)
from precog.database.records import (
    GameStateRow,
    GameStateSnapshot,
    RankingInput,
    RankingRow,
    TeamInput,
    TeamRow,
    VenueInput,
    VenueRow,
)
from precog.database.scd2 import Column, Observation, UpsertResult
from precog.errors import ConfigError

# ---------------------------------------------------------------- teams, venues, rankings


_TEAM_COLS = [Column(f.name, "text") for f in dataclasses.fields(TeamInput)]
_VENUE_COLS = [
    *(Column(n, "text") for n in ("espn_venue_id", "name", "city", "state", "country")),
    Column("indoor", "boolean"),
]


async def _upsert_reference(
    conn: Conn,
    table: str,
    columns: Sequence[Column],
    conflict: Sequence[str],
    rows: Sequence[Any],
) -> None:
    key = [c for c in columns if c.name in conflict]
    rest = [c for c in columns if c.name not in conflict]
    ident = sql.Identifier
    order = sql.SQL(", ").join(ident("i", c.name) for c in key)
    set_list = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(ident(c.name), ident(c.name)) for c in rest
    )
    old = sql.SQL(", ").join(ident(table, c.name) for c in rest)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c.name)) for c in rest)
    await conn.execute(
        sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {icols} FROM {unnest} ORDER BY {order} "
            "ON CONFLICT ({conflict}) DO UPDATE SET {set_list}, updated_at = now() "
            "WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
        ).format(
            table=ident(table),
            cols=sql.SQL(", ").join(ident(c.name) for c in columns),
            icols=sql.SQL(", ").join(ident("i", c.name) for c in columns),
            unnest=_unnest(columns),
            order=order,
            conflict=sql.SQL(", ").join(ident(n) for n in conflict),
            set_list=set_list,
            old=old,
            new=new,
        ),
        _arrays(columns, rows),
    )


async def upsert_teams(conn: Conn, teams: Sequence[TeamInput]) -> dict[tuple[str, str], int]:
    """Insert or update teams; returns (league, espn_team_id) -> team_id."""
    if not teams:
        return {}
    unique = list({(t.league, t.espn_team_id): t for t in teams}.values())

    async def work() -> dict[tuple[str, str], int]:
        await _upsert_reference(conn, "teams", _TEAM_COLS, ("league", "espn_team_id"), unique)
        cur = await conn.execute(
            "SELECT t.league, t.espn_team_id, t.team_id FROM teams t JOIN "
            "unnest(%s::text[], %s::text[]) AS i(league, espn_team_id) "
            "USING (league, espn_team_id)",
            ([t.league for t in unique], [t.espn_team_id for t in unique]),
        )
        return {(str(lg), str(e)): int(i) for lg, e, i in await cur.fetchall()}

    return await _transaction(conn, work)


async def get_team(conn: Conn, league: str, espn_team_id: str) -> TeamRow | None:
    query = sql.SQL("SELECT {} FROM teams WHERE league = %s AND espn_team_id = %s").format(
        _columns(TeamRow)
    )
    return await _fetch_one(conn, TeamRow, query, (league, espn_team_id))


async def list_teams(conn: Conn, league: str | None = None) -> list[TeamRow]:
    query = sql.SQL(
        "SELECT {} FROM teams WHERE (%(l)s::text IS NULL OR league = %(l)s) "
        "ORDER BY league, espn_team_id"
    ).format(_columns(TeamRow))
    return await _fetch(conn, TeamRow, query, {"l": league})


async def upsert_venues(conn: Conn, venues: Sequence[VenueInput]) -> dict[str, int]:
    """Insert or update venues; returns espn_venue_id -> venue_id."""
    if not venues:
        return {}
    unique = list({v.espn_venue_id: v for v in venues}.values())

    async def work() -> dict[str, int]:
        await _upsert_reference(conn, "venues", _VENUE_COLS, ("espn_venue_id",), unique)
        cur = await conn.execute(
            "SELECT espn_venue_id, venue_id FROM venues WHERE espn_venue_id = ANY(%s)",
            ([v.espn_venue_id for v in unique],),
        )
        return {str(e): int(i) for e, i in await cur.fetchall()}

    return await _transaction(conn, work)


async def get_venue(conn: Conn, espn_venue_id: str) -> VenueRow | None:
    query = sql.SQL("SELECT {} FROM venues WHERE espn_venue_id = %s").format(_columns(VenueRow))
    return await _fetch_one(conn, VenueRow, query, (espn_venue_id,))


_RANKING_COLS = [
    Column("team_id", "bigint"),
    Column("poll", "text"),
    Column("season", "integer"),
    Column("week", "integer"),
    Column("rank", "integer"),
    Column("ranked_at", "timestamptz"),
]


async def upsert_rankings(conn: Conn, rankings: Sequence[RankingInput]) -> int:
    """Insert rankings (one per team, poll, season, week; a re-sent one updates); returns count."""
    if not rankings:
        return 0
    unique = list({(r.team_id, r.poll, r.season, r.week): r for r in rankings}.values())

    async def work() -> int:
        cur = await conn.execute(
            sql.SQL(
                "WITH up AS (INSERT INTO team_rankings (team_id, poll, season, week, rank, "
                "ranked_at) SELECT i.team_id, i.poll, i.season, i.week, i.rank, i.ranked_at "
                "FROM {} ORDER BY i.team_id, i.poll, i.season, i.week "
                "ON CONFLICT ON CONSTRAINT uq_team_rankings_team_poll_week DO UPDATE SET "
                "rank = EXCLUDED.rank, ranked_at = EXCLUDED.ranked_at RETURNING 1) "
                "SELECT count(*) FROM up"
            ).format(_unnest(_RANKING_COLS)),
            _arrays(_RANKING_COLS, unique),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    return await _transaction(conn, work)


async def list_rankings(
    conn: Conn, poll: str, season: int, week: int | None = None
) -> list[RankingRow]:
    query = sql.SQL(
        "SELECT {} FROM team_rankings WHERE poll = %s AND season = %s "
        "AND week IS NOT DISTINCT FROM %s ORDER BY rank, team_id"
    ).format(_columns(RankingRow))
    return await _fetch(conn, RankingRow, query, (poll, season, week))


# ---------------------------------------------------------------- game states


async def upsert_game_states(conn: Conn, snapshots: Sequence[GameStateSnapshot]) -> UpsertResult:
    if not snapshots:
        return UpsertResult()
    tracked = GAME_STATES.tracked_names
    observations = [
        Observation((s.league, s.espn_event_id), {n: getattr(s, n) for n in tracked}, s.observed_at)
        for s in snapshots
    ]

    async def work() -> UpsertResult:
        return await _write(conn, GAME_STATES, observations)

    return await _transaction(conn, work)


_GAME_FROM = sql.SQL(
    "SELECT {} FROM game_states WHERE game_key_id = (SELECT game_key_id FROM game_states_keys "
    "WHERE league = %s AND espn_event_id = %s) "
).format(_columns(GameStateRow))


async def get_current_game_state(
    conn: Conn, league: str, espn_event_id: str
) -> GameStateRow | None:
    query = _GAME_FROM + sql.SQL("AND row_current_ind")
    return await _fetch_one(conn, GameStateRow, query, (league, espn_event_id))


async def get_game_state_history(conn: Conn, league: str, espn_event_id: str) -> list[GameStateRow]:
    query = _GAME_FROM + sql.SQL("ORDER BY row_start_ts")
    return await _fetch(conn, GameStateRow, query, (league, espn_event_id))


async def get_game_state_at(
    conn: Conn, league: str, espn_event_id: str, at: datetime
) -> GameStateRow | None:
    query = _GAME_FROM + sql.SQL("AND tstzrange(row_start_ts, row_end_ts, '[)') @> %s::timestamptz")
    return await _fetch_one(conn, GameStateRow, query, (league, espn_event_id, at))


async def list_current_game_states(
    conn: Conn, *, league: str | None = None, status: str | None = None
) -> list[GameStateRow]:
    query = sql.SQL(
        "SELECT {} FROM game_states WHERE row_current_ind "
        "AND (%(l)s::text IS NULL OR league = %(l)s) "
        "AND (%(s)s::text IS NULL OR status = %(s)s) ORDER BY league, espn_event_id"
    ).format(_columns(GameStateRow))
    return await _fetch(conn, GameStateRow, query, {"l": league, "s": status})


# ---------------------------------------------------------------- ESPN games


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


# ESPN's `curatedRank` (reference Part B: college teams ranked 1-25; 99, unranked, is not kept).
CURATED_POLL = "espn_curated"


async def record_games(conn: Conn, games: Sequence[Game], observed_at: dt.datetime) -> UpsertResult:
    """Upsert the games' teams, venues and college rankings and write their states, in one
    transaction.

    A new `game_states` version is written only for a game whose tracked state changed
    (the SCD2 writer compares); `observed_at` is when the scoreboard was received (ESPN
    sends no per-event timestamp). A ranked team's rank is kept per (poll, season, week):
    `ranked_at` is when it was last recorded; without a week (basketball) the latest rank.
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
        team_ids = await upsert_teams(conn, teams)
        venue_ids = await upsert_venues(conn, venues)

        def team_id(league: str, team: Team | None) -> int | None:
            return team_ids[(league, team.espn_team_id)] if team else None

        await upsert_rankings(
            conn,
            [
                RankingInput(
                    team_ids[(g.league, side.team.espn_team_id)],
                    CURATED_POLL,
                    g.season_year,
                    side.rank,
                    observed_at,
                    g.week,
                )
                for g in games
                if g.season_year is not None
                for side in (g.home, g.away)
                if side.team is not None and side.rank is not None
            ],
        )
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
        return await upsert_game_states(conn, snapshots)


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
    versions = await get_game_state_history(conn, leagues[0], espn_event_id)
    ids = sorted({i for v in versions for i in (v.home_team_id, v.away_team_id) if i})
    teams = {t.team_id: t for t in await list_teams(conn, leagues[0]) if t.team_id in ids}
    return GameHistory(leagues[0], espn_event_id, versions, teams)


__all__ = ["GameHistory", "find_game_history", "record_games", "tracked_state"]
