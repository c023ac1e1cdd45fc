"""The sandbox's ESPN simulator: a seeded game calendar whose games progress with the clock.

Serves `GET /apis/site/v2/sports/{sport}/{league}/scoreboard` (the six leagues of
`espn_models.LEAGUE_PATHS`) in ESPN's shapes and quirks (reference B3-B9): scores as
strings, dates without seconds, competitors in no fixed order, `situation` only while a
football game is in play (and missing between some plays and right after scores),
`completed` only at the final, college scoreboards without `groups` return a featured subset,
`limit` above 500 returns 25 events, a date range on college football answers 400.

Nothing is stored per request: a day's schedule is derived from `(seed, league, day)` and a
game's state is a pure function of its schedule and the simulated time (`now`, the
exchange's clock, so `/_admin/step` moves games and markets together). Games go pre-game ->
periods (the game clock runs down) -> breaks / halftime -> final, with overtime when tied
after regulation; a few are postponed. The same seed and time always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from precog.api_connectors.espn_models import LEAGUE_PATHS
from precog.sandbox.paging import SandboxRequestError

ESPN_PREFIX: Final = "/apis/site/v2/sports"
SCOREBOARD_ROUTE: Final = ESPN_PREFIX + "/{sport}/{league}/scoreboard"
LEAGUE_BY_PATH: Final = {path: league for league, path in LEAGUE_PATHS.items()}
FEATURED_GAMES: Final = 10  # college scoreboards without `groups`
FULL_SLATE_GROUPS: Final = {"ncaaf": {"80", "90"}, "ncaab": {"50"}}
POSTPONED_SHARE: Final = 0.03
PLAY_SECONDS: Final = 35  # real seconds per simulated football play
STATUS_LAG_SECONDS: Final = 45.0


class EspnRequestRefusedError(SandboxRequestError):
    """A request ESPN answers with 4xx; the body is ESPN's, not Kalshi's."""

    def body(self) -> dict[str, Any]:
        return {"code": self.status, "message": self.details}


@dataclass(frozen=True)
class Shape:
    """How a league's games run: periods, clocks (game seconds) and breaks (real seconds)."""

    uid: str
    periods: int
    period_clock: int
    halftime_after: int | None
    break_seconds: int
    halftime_seconds: int
    overtime_clock: int
    points: tuple[int, ...]
    scores_per_period: tuple[int, int]
    teams: int
    games_by_weekday: tuple[int, ...]  # Monday first
    real_factor: float = 1.5  # real seconds per game-clock second


SHAPES: Final[dict[str, Shape]] = {
    "nfl": Shape("s:20~l:28", 4, 900, 2, 120, 1200, 600, (7, 3, 7, 6, 2), (0, 3), 32,
                 (1, 0, 0, 1, 0, 0, 13)),
    "ncaaf": Shape("s:20~l:23", 4, 900, 2, 120, 1200, 600, (7, 3, 7, 6), (0, 4), 134,
                   (0, 0, 0, 2, 3, 60, 0)),
    "nba": Shape("s:40~l:46", 4, 720, 2, 120, 900, 300, (2, 2, 3, 1), (20, 32), 30,
                 (8, 6, 10, 7, 9, 6, 8)),
    "ncaab": Shape("s:40~l:41", 2, 1200, 1, 60, 900, 300, (2, 2, 3, 1), (25, 38), 360,
                   (30, 40, 45, 30, 25, 120, 40)),
    "nhl": Shape("s:70~l:90", 3, 1200, None, 1080, 0, 300, (1,), (0, 3), 32,
                 (6, 8, 5, 9, 4, 12, 6)),
    "wnba": Shape("s:40~l:59", 4, 600, 2, 120, 900, 300, (2, 2, 3, 1), (16, 24), 12,
                  (2, 3, 2, 4, 2, 5, 3)),
}  # fmt: skip

_PLACES = (
    "Avalon", "Brookfield", "Cedar", "Dover", "Easton", "Fairview", "Glenwood", "Harbor",
    "Ironwood", "Jasper", "Kingston", "Lakeside", "Madison", "Newport", "Oakdale", "Pinecrest",
    "Quincy", "Riverton", "Salem", "Trenton", "Union", "Vernon", "Westfield", "Yardley",
)  # fmt: skip
_NAMES = (
    "Badgers", "Comets", "Falcons", "Foxes", "Giants", "Hawks", "Knights", "Lions", "Owls",
    "Pilots", "Rams", "Rockets", "Sharks", "Storm", "Titans", "Wolves",
)  # fmt: skip


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311 (simulation)


@dataclass(frozen=True)
class SimTeam:
    id: str
    location: str
    name: str
    abbreviation: str
    rank: int | None
    wins: int
    losses: int

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": f"t:{self.id}",
            "location": self.location,
            "name": self.name,
            "abbreviation": self.abbreviation,
            "displayName": f"{self.location} {self.name}",
            "shortDisplayName": self.name,
            "color": f"{zlib.crc32(self.id.encode()) & 0xFFFFFF:06x}",
            "isActive": True,
        }


@lru_cache(maxsize=16)
def league_teams(seed: int, league: str) -> tuple[SimTeam, ...]:
    shape = SHAPES[league]
    rng = _rng("teams", seed, league)
    college = league in FULL_SLATE_GROUPS
    ranked = set(rng.sample(range(shape.teams), 25)) if college else set()
    ranks = iter(rng.sample(range(1, 26), 25))
    teams = []
    for index in range(shape.teams):
        place = _PLACES[index % len(_PLACES)]
        name = _NAMES[(index // len(_PLACES) + index) % len(_NAMES)]
        suffix = "" if index < len(_PLACES) else str(index // len(_PLACES))
        teams.append(
            SimTeam(
                id=str(index + 1),
                location=f"{place}{' ' + suffix if suffix else ''}",
                name=name,
                abbreviation=f"{place[:3].upper()}{suffix}",
                rank=next(ranks) if index in ranked else None,
                wins=rng.randint(0, 12),
                losses=rng.randint(0, 12),
            )
        )
    return tuple(teams)


@dataclass(frozen=True)
class Phase:
    kind: str  # play | break | halftime
    period: int
    start: float  # real seconds after kickoff
    end: float
    clock: int  # game seconds in the period (play phases)


@dataclass(frozen=True)
class Score:
    at: float  # real seconds after kickoff
    period: int
    side: str
    points: int


@dataclass(frozen=True)
class SimGame:
    league: str
    event_id: str
    start: dt.datetime
    home: SimTeam
    away: SimTeam
    venue_id: str | None
    postponed: bool
    phases: tuple[Phase, ...]
    scores: tuple[Score, ...]
    home_first: bool  # ESPN lists competitors in no fixed order
    status_lag: float  # seconds "Halftime" persists into the second half (reference B4)

    @property
    def overtime(self) -> bool:
        return self.phases[-1].period > SHAPES[self.league].periods


def _phases(shape: Shape, periods: int) -> list[Phase]:
    phases: list[Phase] = []
    t = 0.0
    for period in range(1, periods + 1):
        clock = shape.period_clock if period <= shape.periods else shape.overtime_clock
        length = clock * shape.real_factor
        phases.append(Phase("play", period, t, t + length, clock))
        t += length
        if period == periods:
            break
        if period == shape.halftime_after:
            phases.append(Phase("halftime", period, t, t + shape.halftime_seconds, 0))
            t += shape.halftime_seconds
        else:
            phases.append(Phase("break", period, t, t + shape.break_seconds, 0))
            t += shape.break_seconds
    return phases


def _build_game(
    seed: int, league: str, day: dt.date, index: int, pair: tuple[SimTeam, SimTeam]
) -> SimGame:
    home, away = pair
    shape = SHAPES[league]
    event_id = f"4{list(SHAPES).index(league)}{day:%y%m%d}{index:03d}"
    rng = _rng("game", seed, event_id)
    start = dt.datetime.combine(day, dt.time(16, 0), dt.UTC) + dt.timedelta(
        minutes=15 * rng.randrange(0, 39)  # up to 01:30 UTC: late games are the next UTC day
    )
    phases = _phases(shape, shape.periods)
    scores = []
    for phase in (p for p in phases if p.kind == "play"):
        for _ in range(rng.randint(*shape.scores_per_period)):
            at = round(rng.uniform(phase.start + 1, phase.end - 1), 1)
            scores.append(
                Score(at, phase.period, rng.choice(("home", "away")), rng.choice(shape.points))
            )
    totals = {"home": 0, "away": 0}
    for score in scores:
        totals[score.side] += score.points
    if totals["home"] == totals["away"]:  # overtime decides it
        phases = _phases(shape, shape.periods + 1)
        last = phases[-1]
        scores.append(
            Score(
                round((last.start + last.end) / 2, 1),
                last.period,
                rng.choice(("home", "away")),
                shape.points[0],
            )
        )
    return SimGame(
        league=league,
        event_id=event_id,
        start=start,
        home=home,
        away=away,
        venue_id=None if rng.random() < 0.05 else str(10_000 + int(home.id)),
        postponed=rng.random() < POSTPONED_SHARE,
        phases=tuple(phases),
        scores=tuple(sorted(scores, key=lambda s: s.at)),
        home_first=rng.random() < 0.7,
        status_lag=STATUS_LAG_SECONDS if rng.random() < 0.3 else 0.0,
    )


@lru_cache(maxsize=256)
def day_schedule(seed: int, league: str, day: dt.date) -> tuple[SimGame, ...]:
    """The games of one league on one day (deterministic in seed, league and day)."""
    shape = SHAPES[league]
    count = shape.games_by_weekday[day.weekday()]
    teams = list(league_teams(seed, league))
    _rng("pairs", seed, league, day).shuffle(teams)
    count = min(count, len(teams) // 2)
    return tuple(
        _build_game(seed, league, day, i, (teams[2 * i], teams[2 * i + 1])) for i in range(count)
    )


def _clock_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _week(day: dt.date) -> int:
    return day.isocalendar().week % 18 + 1


_ORDINAL = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}


def _period_name(league: str, period: int) -> str:
    shape = SHAPES[league]
    if period > shape.periods:
        return "OT"
    return _ORDINAL.get(period, f"{period}th")


_STATUS_IDS: Final = {
    "STATUS_SCHEDULED": "1", "STATUS_IN_PROGRESS": "2", "STATUS_FINAL": "3",
    "STATUS_FINAL_OT": "3", "STATUS_POSTPONED": "6", "STATUS_END_PERIOD": "22",
    "STATUS_HALFTIME": "23",
}  # fmt: skip
_SHORT_STATUS: Final = ("id", "name", "state", "completed")


def _status(
    name: str, state: str, period: int, clock: float, detail: str, *, completed: bool = False
) -> dict[str, Any]:
    return {
        "clock": clock,  # a JSON float on the wire, as ESPN sends it
        "displayClock": _clock_text(clock),
        "period": period,
        "type": {
            "id": _STATUS_IDS[name],
            "name": name,
            "state": state,
            "completed": completed,
            "description": detail,
            "detail": detail,
            "shortDetail": detail,
        },
    }


class EspnSimulator:
    """The scoreboard queries of the simulated ESPN (JSON-ready dicts)."""

    def __init__(self, *, seed: int = 0, now: Callable[[], dt.datetime]) -> None:
        self.seed = seed
        self.now = now

    # -- calendar --------------------------------------------------------------------------
    def games(self, league: str, day: dt.date) -> tuple[SimGame, ...]:
        return day_schedule(self.seed, league, day)

    def today(self) -> dt.date:
        # ESPN's default day follows the US day (reference B9): UTC minus five hours.
        return (self.now() - dt.timedelta(hours=5)).date()

    # -- the endpoint ----------------------------------------------------------------------
    def scoreboard(self, sport: str, league_slug: str, query: dict[str, str]) -> dict[str, Any]:
        league = LEAGUE_BY_PATH.get(f"{sport}/{league_slug}")
        if league is None:
            raise EspnRequestRefusedError(
                404, "not_found", f"no scoreboard for {sport}/{league_slug}"
            )
        days = self._days(league, query.get("dates"))
        games = [g for day in days for g in self.games(league, day)]
        groups = query.get("groups")
        if league in FULL_SLATE_GROUPS and groups not in FULL_SLATE_GROUPS[league]:
            if groups is None:  # the featured subset: ranked teams first
                games.sort(key=lambda g: (min(g.home.rank or 99, g.away.rank or 99), g.event_id))
                games = sorted(games[:FEATURED_GAMES], key=lambda g: g.event_id)
            else:
                games = [g for g in games if zlib.crc32(f"{groups}:{g.event_id}".encode()) % 4 == 0]
        limit = query.get("limit")
        if limit is not None and limit.isdigit():
            games = games[: 25 if int(limit) > 500 else int(limit)]
        now = self.now()
        shape = SHAPES[league]
        body: dict[str, Any] = {
            "leagues": [
                {
                    "id": shape.uid.split("l:")[1],
                    "uid": shape.uid,
                    "abbreviation": league.upper(),
                    "slug": league_slug,
                }
            ],
            "season": {"type": 2, "year": days[0].year},
            "events": [self.event_json(g, now) for g in games],
        }
        if sport == "football":
            body["week"] = {"number": _week(days[0])}
        else:
            body["day"] = {"date": days[0].isoformat()}
        return body

    def _days(self, league: str, dates: str | None) -> list[dt.date]:
        if dates is None:
            return [self.today()]
        parts = dates.split("-")
        try:
            days = [dt.datetime.strptime(p, "%Y%m%d").date() for p in parts]
        except ValueError:
            raise EspnRequestRefusedError(
                400, "bad_request", "Failed to get events endpoint."
            ) from None
        if len(days) == 1:
            return days
        if league == "ncaaf" or len(days) != 2 or days[0] > days[1]:
            # reference B2: a range on college football answers 400
            raise EspnRequestRefusedError(400, "bad_request", "Failed to get events endpoint.")
        span = (days[1] - days[0]).days
        if span > 31:
            raise EspnRequestRefusedError(400, "bad_request", "Failed to get events endpoint.")
        return [days[0] + dt.timedelta(days=i) for i in range(span + 1)]

    # -- one game --------------------------------------------------------------------------
    def state(self, game: SimGame, now: dt.datetime) -> dict[str, Any]:
        """ESPN's `status` object of `game` at `now`."""
        shape = SHAPES[game.league]
        elapsed = (now - game.start).total_seconds()
        if game.postponed:
            return _status("STATUS_POSTPONED", "post", 0, 0.0, "Postponed")
        if elapsed < 0:
            detail = f"{game.start.month}/{game.start.day} - {game.start:%H:%M} UTC"
            return _status("STATUS_SCHEDULED", "pre", 0, float(shape.period_clock), detail)
        for phase in game.phases:
            if elapsed < phase.end:
                return self._phase_status(game, phase, elapsed)
        name, detail = (
            ("STATUS_FINAL_OT", "Final/OT") if game.overtime else ("STATUS_FINAL", "Final")
        )
        return _status(name, "post", game.phases[-1].period, 0.0, detail, completed=True)

    @staticmethod
    def _phase_status(game: SimGame, phase: Phase, elapsed: float) -> dict[str, Any]:
        shape = SHAPES[game.league]
        name = _period_name(game.league, phase.period)
        if phase.kind == "halftime":
            return _status("STATUS_HALFTIME", "in", phase.period, 0.0, "Halftime")
        if phase.kind == "break":
            return _status("STATUS_END_PERIOD", "in", phase.period, 0.0, f"End of {name}")
        second_half = shape.halftime_after is not None and phase.period == shape.halftime_after + 1
        if second_half and elapsed < phase.start + game.status_lag:
            # ESPN lags (reference B4): still "Halftime" although the second half has started
            return _status("STATUS_HALFTIME", "in", phase.period - 1, 0.0, "Halftime")
        clock = round(max(0.0, phase.clock - (elapsed - phase.start) / shape.real_factor), 1)
        text = f"{_clock_text(clock)} - {name}"
        return _status("STATUS_IN_PROGRESS", "in", phase.period, clock, text)

    def event_json(self, game: SimGame, now: dt.datetime) -> dict[str, Any]:
        status = self.state(game, now)
        elapsed = (now - game.start).total_seconds()
        in_play = status["type"]["state"] in ("in", "post") and not game.postponed
        scored = [s for s in game.scores if s.at <= elapsed] if in_play else []
        last_period = status["period"]

        def competitor(side: str, team: SimTeam) -> dict[str, Any]:
            points = sum(s.points for s in scored if s.side == side)
            lines = [
                {
                    "value": float(
                        sum(s.points for s in scored if s.side == side and s.period == p)
                    ),
                    "period": p,
                }
                for p in range(1, last_period + 1)
            ]
            entry: dict[str, Any] = {
                "id": team.id,
                "homeAway": side,
                "score": str(points) if in_play else "0",
                "team": team.json(),
                "records": [
                    {"name": "overall", "type": "total", "summary": f"{team.wins}-{team.losses}"}
                ],
            }
            if lines:
                entry["linescores"] = lines
            if game.league in FULL_SLATE_GROUPS:
                entry["curatedRank"] = {"current": team.rank or 99}
            if status["type"]["completed"]:
                other = sum(s.points for s in scored if s.side != side)
                entry["winner"] = points > other
            return entry

        sides = [competitor("home", game.home), competitor("away", game.away)]
        if not game.home_first:
            sides.reverse()
        date = game.start.strftime("%Y-%m-%dT%H:%MZ")
        competition: dict[str, Any] = {
            "id": game.event_id,
            "date": date,
            "neutralSite": game.venue_id is None,
            "competitors": sides,
            "status": status,
        }
        if game.venue_id is not None:
            competition["venue"] = {
                "id": game.venue_id,
                "fullName": f"{game.home.location} Stadium",
                "address": {"city": game.home.location, "state": "ZZ"},
                "indoor": game.league not in ("nfl", "ncaaf"),
            }
        situation = self._situation(game, status, elapsed, scored)
        if situation is not None:
            competition["situation"] = situation
        event: dict[str, Any] = {
            "id": game.event_id,
            "uid": f"{SHAPES[game.league].uid}~e:{game.event_id}",
            "date": date,
            "name": f"{game.away.location} {game.away.name} at "
            f"{game.home.location} {game.home.name}",
            "shortName": f"{game.away.abbreviation} @ {game.home.abbreviation}",
            "season": {"year": game.start.year, "type": 2},
            "competitions": [competition],
            "status": {"type": {k: status["type"][k] for k in _SHORT_STATUS}},  # fewer fields
        }
        if game.league in ("nfl", "ncaaf"):
            event["week"] = {"number": _week(game.start.date())}
        return event

    def _situation(
        self, game: SimGame, status: dict[str, Any], elapsed: float, scored: list[Score]
    ) -> dict[str, Any] | None:
        if game.league not in ("nfl", "ncaaf") or status["type"]["name"] != "STATUS_IN_PROGRESS":
            return None
        play = int(elapsed // PLAY_SECONDS)
        if scored and elapsed - scored[-1].at < PLAY_SECONDS:
            return None  # right after a score
        rng = _rng("play", self.seed, game.event_id, play)
        if rng.random() < 0.1:
            return None  # between plays
        offense = game.home if rng.random() < 0.5 else game.away
        yard_line = rng.randint(1, 99)
        down, distance = rng.randint(1, 4), rng.randint(1, 15)
        return {
            "down": down,
            "distance": distance,
            "yardLine": yard_line,
            "possession": offense.id,
            "possessionText": f"{offense.abbreviation} {yard_line}",
            "downDistanceText": f"{_ORDINAL[down]} & {distance} at {offense.abbreviation} "
            f"{yard_line}",
            "isRedZone": yard_line >= 80,
            "homeTimeouts": 3 - rng.randint(0, 1) * (status["period"] > 2),
            "awayTimeouts": 3 - rng.randint(0, 1) * (status["period"] > 2),
        }


__all__ = [
    "ESPN_PREFIX",
    "SCOREBOARD_ROUTE",
    "SHAPES",
    "EspnRequestRefusedError",
    "EspnSimulator",
    "SimGame",
    "day_schedule",
    "league_teams",
]
