"""ESPN scoreboard records and their parser: league table, status vocabulary, typed games.

Owns the shape of ESPN's unofficial scoreboard JSON (reference Part B) and its translation
into frozen records. The parser is total and tolerant by design:

- a missing or odd field (no venue, an empty score, a TBD team, an unknown status name)
  parses to `None` (or the closest status by `state`/`completed`) and the game is kept;
- an event without what makes it a game (an id, one competition with a home and an away
  competitor, a status object) is a `EspnParseError`, counted in `Scoreboard.errors` and
  skipped; the rest of the scoreboard is kept;
- only a body that is not a scoreboard at all (not an object, `events` not a list) raises.

Numbers arrive as JSON floats (`clock`, linescores); they are decoded as `Decimal`
(`decode_json`), never `float`. Scores are strings on this API (`"7"`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from precog.errors import EXIT_RUNTIME, EXIT_UNAVAILABLE, PrecogError, ServiceUnavailableError

League = Literal["nfl", "ncaaf", "nba", "ncaab", "nhl", "wnba"]

# league -> URL path below /apis/site/v2/sports/ (reference B1)
LEAGUE_PATHS: Final[Mapping[str, str]] = {
    "nfl": "football/nfl",
    "ncaaf": "football/college-football",
    "nba": "basketball/nba",
    "ncaab": "basketball/mens-college-basketball",
    "nhl": "hockey/nhl",
    "wnba": "basketball/wnba",
}
LEAGUES: Final = tuple(LEAGUE_PATHS)
# Without `groups` college scoreboards return a featured subset (reference B2):
# 80 = FBS for football, 50 = all of Division I for basketball.
DEFAULT_GROUPS: Final[Mapping[str, str]] = {"ncaaf": "80", "ncaab": "50"}
FOOTBALL: Final = frozenset({"nfl", "ncaaf"})

# SPEC §5 status vocabulary (the game_states CHECK accepts exactly these).
STATUSES: Final = (
    "pre",
    "in_progress",
    "halftime",
    "end_of_period",
    "final",
    "final_ot",
    "delayed",
    "postponed",
    "cancelled",
    "suspended",
)
# Statuses during which a game's state moves: the poller polls fast while any game has one.
LIVE_STATUSES: Final = frozenset({"in_progress", "halftime", "end_of_period", "delayed"})
FINAL_STATUSES: Final = frozenset({"final", "final_ot"})

_STATUS_NAMES: Final[Mapping[str, str]] = {
    "STATUS_SCHEDULED": "pre",
    "STATUS_PREGAME": "pre",
    "STATUS_IN_PROGRESS": "in_progress",
    "STATUS_FIRST_HALF": "in_progress",
    "STATUS_SECOND_HALF": "in_progress",
    "STATUS_OVERTIME": "in_progress",
    "STATUS_SHOOTOUT": "in_progress",
    "STATUS_HALFTIME": "halftime",
    "STATUS_END_PERIOD": "end_of_period",
    "STATUS_END_OF_REGULATION": "end_of_period",
    "STATUS_FINAL": "final",
    "STATUS_FULL_TIME": "final",
    "STATUS_FINAL_OT": "final_ot",
    "STATUS_FINAL_SO": "final_ot",
    "STATUS_FINAL_PEN": "final_ot",
    "STATUS_POSTPONED": "postponed",
    "STATUS_CANCELED": "cancelled",
    "STATUS_CANCELLED": "cancelled",
    "STATUS_DELAYED": "delayed",
    "STATUS_RAIN_DELAY": "delayed",
    "STATUS_SUSPENDED": "suspended",
    "STATUS_FORFEIT": "final",
}
_OVERTIME = re.compile(r"\b\d*\s*(OT|SO)\b|overtime|shootout", re.IGNORECASE)

SEASON_TYPES: Final[Mapping[int, str]] = {
    1: "preseason",
    2: "regular",
    3: "postseason",
    4: "off-season",
}
UNRANKED: Final = 99  # curatedRank.current for an unranked team
# Plausibility bounds: a value beyond them is a broken field (-> None), and it must never
# reach an INTEGER column and fail the whole batch it is written in.
MAX_SCORE: Final = 9999
MAX_PERIOD: Final = 99


# ------------------------------------------------------------------ errors
class EspnError(PrecogError):
    """A failure talking to ESPN; `status` is the HTTP status when there was a response."""

    exit_code = EXIT_RUNTIME
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        super().__init__(message)
        self.status = status
        self.path = path


class EspnUnavailableError(EspnError, ServiceUnavailableError):
    """Timeout, connection failure, truncated body or 5xx: retried, then exit code 4."""

    exit_code = EXIT_UNAVAILABLE
    retryable = True


class EspnRequestError(EspnError):
    """ESPN answered 4xx (bad date range, unknown league, blocked client). Never retried."""


class EspnParseError(EspnError):
    """A scoreboard or one event does not have the documented shape; names the field."""

    def __init__(self, *, field: str, problem: str, event_id: str | None = None) -> None:
        where = f"event {event_id}" if event_id else "scoreboard"
        super().__init__(f"malformed {where} from ESPN: {field} {problem}")
        self.field = field
        self.problem = problem
        self.event_id = event_id


# ------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True)
class Team:
    espn_team_id: str
    display_name: str
    abbreviation: str | None = None
    short_name: str | None = None
    location: str | None = None
    name: str | None = None
    color: str | None = None
    alternate_color: str | None = None


@dataclass(frozen=True, slots=True)
class Competitor:
    """One side of a game: the team (None while TBD), its score and standing."""

    home_away: Literal["home", "away"]
    team: Team | None
    score: int | None
    linescores: tuple[Decimal, ...] = ()
    record: str | None = None  # overall, e.g. "2-1"
    rank: int | None = None  # 1-25 for ranked college teams, else None
    winner: bool | None = None


@dataclass(frozen=True, slots=True)
class Venue:
    espn_venue_id: str
    name: str
    city: str | None = None
    state: str | None = None
    country: str | None = None
    indoor: bool | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    """Football down-and-distance (live only); possession is the side, not the team id."""

    down: int | None = None
    distance: int | None = None
    yard_line: int | None = None
    possession: Literal["home", "away"] | None = None
    red_zone: bool | None = None
    home_timeouts: int | None = None
    away_timeouts: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "down": self.down,
            "distance": self.distance,
            "yard_line": self.yard_line,
            "possession": self.possession,
            "red_zone": self.red_zone,
            "home_timeouts": self.home_timeouts,
            "away_timeouts": self.away_timeouts,
        }


@dataclass(frozen=True, slots=True)
class Game:
    league: str
    event_id: str
    status: str  # one of STATUSES
    home: Competitor
    away: Competitor
    name: str | None = None
    short_name: str | None = None
    start_time: dt.datetime | None = None
    season_year: int | None = None
    season_type: str | None = None  # preseason | regular | postseason | off-season
    week: int | None = None
    venue: Venue | None = None
    neutral_site: bool | None = None
    period: int | None = None
    clock_seconds: Decimal | None = None
    display_clock: str | None = None
    status_detail: str | None = None
    completed: bool = False
    situation: Situation | None = None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Scoreboard:
    """One scoreboard response: the games kept and the events skipped as malformed."""

    league: str
    games: tuple[Game, ...]
    errors: tuple[EspnParseError, ...] = ()
    season_year: int | None = None
    season_type: str | None = None
    week: int | None = None
    day: dt.date | None = None


# ------------------------------------------------------------------ scalar readers
def decode_json(payload: bytes | str) -> Any:
    """JSON -> Python with fractional numbers as `Decimal` (never `float`)."""
    return json.loads(payload, parse_float=Decimal)


def _dict(value: Any) -> Mapping[str, Any] | None:
    if type(value) is dict:  # what json gives: skip the slower ABC check (benchmark espn_parse)
        return value
    return value if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        value = value.strip()
        return value or None
    if kind is int:  # exactly int: a bool is not text
        return str(value)
    return None


def _int(value: Any) -> int | None:
    """An integral number from an int, an integral Decimal/float or a digit string."""
    if type(value) is int:  # the common case; a bool is not a number here
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | float):
        number = Decimal(value)  # exact, never raises (a float NaN/inf gives a Decimal one)
        return int(number) if number.is_finite() and number == number.to_integral_value() else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d{1,9}", text):
            return int(text)
    return None


def _decimal(value: Any) -> Decimal | None:
    if type(value) is Decimal:  # what decode_json gives for fractional numbers
        return value if value.is_finite() else None
    # a bool is an int, but its text ("True") is no number: Decimal() refuses it below
    if isinstance(value, int | Decimal | float | str):
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _non_negative(value: int | None, maximum: int) -> int | None:
    if value is None or value < 0 or value > maximum:
        return None
    return value


def parse_time(value: Any) -> dt.datetime | None:
    """ESPN's UTC times (`2026-10-04T20:05Z`, seconds optional) as aware datetimes."""
    # text only: a number is not a time (20261004 would otherwise read as an ISO date)
    text = _text(value) if isinstance(value, str) else None
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


# ------------------------------------------------------------------ status
def map_status(status: Any) -> str:  # noqa: PLR0911 (one return per rule)
    """ESPN `status` object -> SPEC §5 status. Total: every input gives one of STATUSES.

    `completed == true` is the only proof of a final result: a final-sounding name without
    it is an end of period, and `completed` with any name is final (overtime when the name
    or the detail says so).
    """
    data = _dict(status) or {}
    kind = _dict(data.get("type")) or {}
    name = (_text(kind.get("name")) or "").upper()
    state = (_text(kind.get("state")) or "").lower()
    completed = kind.get("completed") is True
    details = " ".join(
        t for t in (_text(kind.get(k)) for k in ("detail", "shortDetail", "description")) if t
    )
    mapped = _STATUS_NAMES.get(name)
    if completed:
        if mapped == "final_ot" or _OVERTIME.search(details):
            return "final_ot"
        return "final"
    if mapped in FINAL_STATUSES:
        return "end_of_period"  # ESPN says final but has not confirmed it
    if mapped is not None:
        return mapped
    if state == "in":
        return "in_progress"
    if state == "post":
        return "suspended"  # over without a result: stopped, not final
    return "pre"


def season_type_word(value: Any) -> str | None:
    """`season.type` (1-4, or an object with `type`) as a word; unknown -> None."""
    data = _dict(value)
    if data is not None:
        value = data.get("type", data.get("id"))
    number = _int(value)
    return SEASON_TYPES.get(number) if number is not None else None


# ------------------------------------------------------------------ parts
def _team(data: Mapping[str, Any]) -> Team | None:
    team_id = _text(data.get("id"))
    display = _text(data.get("displayName")) or _text(data.get("name"))
    if team_id is None or display is None or display.upper() == "TBD":
        return None
    return Team(
        espn_team_id=team_id,
        display_name=display,
        abbreviation=_text(data.get("abbreviation")),
        short_name=_text(data.get("shortDisplayName")),
        location=_text(data.get("location")),
        name=_text(data.get("name")),
        color=_text(data.get("color")),
        alternate_color=_text(data.get("alternateColor")),
    )


def _score(value: Any) -> int | None:
    data = _dict(value)
    if data is not None:  # the core API's {value, displayValue}
        value = data.get("value", data.get("displayValue"))
    return _non_negative(_int(value), MAX_SCORE)


def _record(records: Any) -> str | None:
    entries = [r for r in _list(records) if isinstance(r, Mapping)]
    for entry in entries:
        if _text(entry.get("type")) == "total" or _text(entry.get("name")) == "overall":
            return _text(entry.get("summary"))
    return _text(entries[0].get("summary")) if entries else None


def _competitor(data: Mapping[str, Any], side: Literal["home", "away"]) -> Competitor:
    team_data = _dict(data.get("team")) or {}
    rank = _int((_dict(data.get("curatedRank")) or {}).get("current"))
    linescores = []
    for line in _list(data.get("linescores")):
        value = _decimal((_dict(line) or {}).get("value"))
        if value is not None:
            linescores.append(value)
    return Competitor(
        home_away=side,
        team=_team(team_data),
        score=_score(data.get("score")),
        linescores=tuple(linescores),
        record=_record(data.get("records")),
        rank=rank if rank is not None and 1 <= rank < UNRANKED else None,
        winner=_bool(data.get("winner")),
    )


def _venue(value: Any) -> Venue | None:
    data = _dict(value)
    if data is None:
        return None
    venue_id = _text(data.get("id"))
    name = _text(data.get("fullName")) or _text(data.get("name"))
    if venue_id is None or name is None:
        return None
    address = _dict(data.get("address")) or {}
    return Venue(
        espn_venue_id=venue_id,
        name=name,
        city=_text(address.get("city")),
        state=_text(address.get("state")),
        country=_text(address.get("country")),
        indoor=_bool(data.get("indoor")),
    )


def _situation(value: Any, home: Competitor, away: Competitor) -> Situation | None:
    data = _dict(value)
    if data is None:
        return None
    offense = _text(data.get("possession"))
    possession: Literal["home", "away"] | None = None
    if offense is not None:
        if home.team is not None and offense == home.team.espn_team_id:
            possession = "home"
        elif away.team is not None and offense == away.team.espn_team_id:
            possession = "away"
    situation = Situation(
        down=_non_negative(_int(data.get("down")), 4) or None,  # -1/0 between plays
        distance=_non_negative(_int(data.get("distance")), 100),
        yard_line=_non_negative(_int(data.get("yardLine")), 100),
        possession=possession,
        red_zone=_bool(data.get("isRedZone")),
        home_timeouts=_non_negative(_int(data.get("homeTimeouts")), 10),
        away_timeouts=_non_negative(_int(data.get("awayTimeouts")), 10),
    )
    return None if situation == Situation() else situation


def _sides(competitors: Any, event_id: str) -> tuple[Competitor, Competitor]:
    entries = _list(competitors)
    # side -> entry; an entry that is not an object has no side (None)
    found: dict[str | None, Mapping[str, Any]] = {}
    for entry in entries:
        data = _dict(entry) or {}
        found[_text(data.get("homeAway"))] = data
    # two entries whose sides are home and away: exactly one of each, both objects
    if len(entries) != 2 or set(found) != {"home", "away"}:
        raise EspnParseError(
            field="competitions[0].competitors",
            problem="must be one home and one away object",
            event_id=event_id,
        )
    return _competitor(found["home"], "home"), _competitor(found["away"], "away")


# ------------------------------------------------------------------ events and scoreboards
def parse_event(data: Any, league: str) -> Game:
    """One scoreboard event as a `Game`; `EspnParseError` if it is not a game at all."""
    event = _dict(data)
    if event is None:
        raise EspnParseError(field="events[]", problem="is not an object")
    event_id = _text(event.get("id"))
    if event_id is None:
        raise EspnParseError(field="id", problem="is missing or empty")
    competitions = _list(event.get("competitions"))
    competition = _dict(competitions[0]) if competitions else None
    if competition is None:
        raise EspnParseError(field="competitions", problem="has no competition", event_id=event_id)
    home, away = _sides(competition.get("competitors"), event_id)
    status = _dict(competition.get("status")) or _dict(event.get("status"))
    if status is None:
        raise EspnParseError(field="status", problem="is missing", event_id=event_id)
    kind = _dict(status.get("type")) or {}
    mapped = map_status(status)
    season = _dict(event.get("season")) or {}
    live = mapped in LIVE_STATUSES
    return Game(
        league=league,
        event_id=event_id,
        status=mapped,
        home=home,
        away=away,
        name=_text(event.get("name")),
        short_name=_text(event.get("shortName")),
        start_time=parse_time(competition.get("date")) or parse_time(event.get("date")),
        season_year=_int(season.get("year")),
        season_type=season_type_word(season.get("type")),
        week=_int((_dict(event.get("week")) or {}).get("number")),
        venue=_venue(competition.get("venue")),
        neutral_site=_bool(competition.get("neutralSite")),
        period=_non_negative(_int(status.get("period")), MAX_PERIOD),
        clock_seconds=_clock(status.get("clock")),
        display_clock=_text(status.get("displayClock")),
        status_detail=_text(kind.get("shortDetail")) or _text(kind.get("detail")),
        completed=kind.get("completed") is True,
        situation=_situation(competition.get("situation"), home, away) if live else None,
    )


def _clock(value: Any) -> Decimal | None:
    number = _decimal(value)
    # NUMERIC(10,2) in game_states: a clock is seconds within a period.
    if number is None or number < 0 or number >= 1_000_000:
        return None
    return number.quantize(Decimal("0.01"))


def parse_scoreboard(body: Any, league: str) -> Scoreboard:
    """A scoreboard body -> `Scoreboard` (malformed events counted in `errors`, not raised)."""
    data = _dict(body)
    if data is None:
        raise EspnParseError(field="body", problem="is not a JSON object")
    events = data.get("events", [])
    if not isinstance(events, list):
        raise EspnParseError(field="events", problem="is not a list")
    games: dict[str, Game] = {}
    errors: list[EspnParseError] = []
    for raw in events:
        try:
            game = parse_event(raw, league)
        except EspnParseError as exc:
            errors.append(exc)
            continue
        games[game.event_id] = game  # the same game may appear twice (group overlap)
    season = _dict(data.get("season")) or {}
    day = _dict(data.get("day")) or {}
    day_raw = day.get("date")
    day_text = _text(day_raw) if isinstance(day_raw, str) else None  # as in parse_time
    try:
        day_date = dt.date.fromisoformat(day_text) if day_text else None
    except ValueError:
        day_date = None
    return Scoreboard(
        league=league,
        games=tuple(games.values()),
        errors=tuple(errors),
        season_year=_int(season.get("year")),
        season_type=season_type_word(season.get("type")),
        week=_int((_dict(data.get("week")) or {}).get("number")),
        day=day_date,
    )


__all__ = [
    "DEFAULT_GROUPS",
    "FINAL_STATUSES",
    "LEAGUES",
    "LEAGUE_PATHS",
    "LIVE_STATUSES",
    "STATUSES",
    "Competitor",
    "EspnError",
    "EspnParseError",
    "EspnRequestError",
    "EspnUnavailableError",
    "Game",
    "Scoreboard",
    "Situation",
    "Team",
    "Venue",
    "decode_json",
    "map_status",
    "parse_event",
    "parse_scoreboard",
    "parse_time",
    "season_type_word",
]
