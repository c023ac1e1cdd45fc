"""The scoreboard parser field by field: one event with every field the parser reads set to a
distinct value, parsed to a `Game` written out by hand; then each fallback, bound and error
varied one field at a time against that same hand-written record."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import types
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.espn_models import (
    Competitor,
    EspnError,
    EspnParseError,
    Game,
    Situation,
    Team,
    Venue,
    decode_json,
    map_status,
    parse_event,
    parse_scoreboard,
    parse_time,
    season_type_word,
)
from tests.plugins.local_zone import CAN_SET_LOCAL_ZONE

pytestmark = pytest.mark.module("espn_client")

EVENT_ID = "401800001"
HOME_ID, AWAY_ID = "13", "14"
SIDES_MESSAGE = (
    f"malformed event {EVENT_ID} from ESPN: "
    "competitions[0].competitors must be one home and one away object"
)

# An in-progress NFL game with every field the parser reads, each value distinct.
FULL: dict[str, Any] = {
    "id": EVENT_ID,
    "name": "Lake Lions at River Rams",
    "shortName": "LAK @ RIV",
    "date": "2026-10-04T17:00Z",
    "season": {"year": 2026, "type": 2},
    "week": {"number": 5},
    "competitions": [
        {
            "date": "2026-10-04T17:05Z",
            "neutralSite": True,
            "venue": {
                "id": "3622",
                "fullName": "River Arena",
                "name": "River Field",
                "address": {"city": "Riverton", "state": "WA", "country": "USA"},
                "indoor": True,
            },
            "status": {
                "clock": 302.5,
                "displayClock": "5:02",
                "period": 3,
                "type": {
                    "name": "STATUS_IN_PROGRESS",
                    "state": "in",
                    "completed": False,
                    "detail": "5:02 - 3rd Quarter",
                    "shortDetail": "5:02 - 3rd",
                },
            },
            "situation": {
                "down": 2,
                "distance": 7,
                "yardLine": 33,
                "possession": AWAY_ID,
                "isRedZone": True,
                "homeTimeouts": 3,
                "awayTimeouts": 1,
            },
            "competitors": [
                {
                    "homeAway": "away",
                    "team": {
                        "id": AWAY_ID,
                        "displayName": "Lake Lions",
                        "abbreviation": "LAK",
                        "shortDisplayName": "L. Lions",
                        "location": "Lake",
                        "name": "Lions",
                        "color": "1d428a",
                        "alternateColor": "ffc72c",
                    },
                    "score": "10",
                    "linescores": [{"value": 3.0}, {"value": 7.0}],
                    "records": [
                        {"name": "Road", "type": "road", "summary": "1-1"},
                        {"name": "overall", "type": "total", "summary": "2-2"},
                    ],
                    "curatedRank": {"current": 12},
                    "winner": True,
                },
                {
                    "homeAway": "home",
                    "team": {
                        "id": HOME_ID,
                        "displayName": "River Rams",
                        "abbreviation": "RIV",
                        "shortDisplayName": "R. Rams",
                        "location": "River",
                        "name": "Rams",
                        "color": "0b2265",
                        "alternateColor": "a71930",
                    },
                    "score": "17",
                    "linescores": [{"value": 7.0}, {"value": 10.0}, {"value": 0.0}],
                    "records": [
                        {"name": "overall", "type": "total", "summary": "3-1"},
                        {"name": "Home", "type": "home", "summary": "2-0"},
                    ],
                    "curatedRank": {"current": 7},
                    "winner": False,
                },
            ],
        }
    ],
    # the event-level copy of the status, as ESPN sends it: without the details
    "status": {
        "clock": 302.5,
        "displayClock": "5:02",
        "period": 3,
        "type": {"name": "STATUS_IN_PROGRESS", "state": "in", "completed": False},
    },
}
AWAY_PATH = "competitions.0.competitors.0"
HOME_PATH = "competitions.0.competitors.1"

HOME_TEAM = Team(
    espn_team_id="13",
    display_name="River Rams",
    abbreviation="RIV",
    short_name="R. Rams",
    location="River",
    name="Rams",
    color="0b2265",
    alternate_color="a71930",
)
AWAY_TEAM = Team(
    espn_team_id="14",
    display_name="Lake Lions",
    abbreviation="LAK",
    short_name="L. Lions",
    location="Lake",
    name="Lions",
    color="1d428a",
    alternate_color="ffc72c",
)
HOME = Competitor(
    home_away="home",
    team=HOME_TEAM,
    score=17,
    linescores=(Decimal("7.0"), Decimal("10.0"), Decimal("0.0")),
    record="3-1",
    rank=7,
    winner=False,
)
AWAY = Competitor(
    home_away="away",
    team=AWAY_TEAM,
    score=10,
    linescores=(Decimal("3.0"), Decimal("7.0")),
    record="2-2",
    rank=12,
    winner=True,
)
VENUE = Venue(
    espn_venue_id="3622",
    name="River Arena",
    city="Riverton",
    state="WA",
    country="USA",
    indoor=True,
)
SITUATION = Situation(
    down=2,
    distance=7,
    yard_line=33,
    possession="away",
    red_zone=True,
    home_timeouts=3,
    away_timeouts=1,
)
EXPECTED = Game(
    league="nfl",
    event_id="401800001",
    status="in_progress",
    home=HOME,
    away=AWAY,
    name="Lake Lions at River Rams",
    short_name="LAK @ RIV",
    start_time=dt.datetime(2026, 10, 4, 17, 5, tzinfo=dt.UTC),
    season_year=2026,
    season_type="regular",
    week=5,
    venue=VENUE,
    neutral_site=True,
    period=3,
    clock_seconds=Decimal("302.50"),
    display_clock="5:02",
    status_detail="5:02 - 3rd",
    completed=False,
    situation=SITUATION,
)

_DELETE = object()  # a change that removes the key


def _event(*changes: tuple[str, Any]) -> dict[str, Any]:
    """A copy of FULL with `(dotted.path, value)` changes; `_DELETE` removes the key."""
    event = copy.deepcopy(FULL)
    for path, value in changes:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = event
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return event


def _parse(event: Any, league: str = "nfl") -> Game:
    """Through the JSON text, so numbers arrive as the parser sees them (Decimal, not float)."""
    return parse_event(decode_json(json.dumps(event)), league)


def _game(**fields: Any) -> Game:
    return dataclasses.replace(EXPECTED, **fields)


def _home(**fields: Any) -> Game:
    return _game(home=dataclasses.replace(HOME, **fields))


def _away(**fields: Any) -> Game:
    return _game(away=dataclasses.replace(AWAY, **fields))


def _situation(**fields: Any) -> Game:
    return _game(situation=dataclasses.replace(SITUATION, **fields))


def _frozen(value: Any) -> Any:
    """Every object as a read-only Mapping that is not a dict."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_frozen(v) for v in value]
    return value


# ------------------------------------------------------------------ the full event
def test_every_field_of_a_full_event() -> None:
    game = _parse(FULL)
    assert game == EXPECTED
    assert str(game.clock_seconds) == "302.50"
    assert game.start_time is not None
    assert game.start_time.tzinfo is dt.UTC
    assert game.is_live
    assert not game.is_final


def test_the_league_is_the_callers() -> None:
    assert _parse(FULL, "ncaaf") == _game(league="ncaaf")


def test_a_mapping_that_is_not_a_dict_parses_the_same() -> None:
    frozen = _frozen(decode_json(json.dumps(FULL)))
    assert isinstance(frozen, types.MappingProxyType)
    assert parse_event(frozen, "nfl") == EXPECTED
    board = parse_scoreboard(types.MappingProxyType({"events": [frozen]}), "nfl")
    assert board.games == (EXPECTED,)


def test_json_numbers_are_decoded_as_decimal() -> None:
    decoded = decode_json('{"clock": 0.1, "period": 2, "score": "7", "x": [1.50]}')
    assert decoded == {"clock": Decimal("0.1"), "period": 2, "score": "7", "x": [Decimal("1.50")]}
    assert type(decoded["clock"]) is Decimal
    assert type(decoded["period"]) is int
    assert str(decoded["x"][0]) == "1.50"
    assert decode_json(b'{"a": 2.25}') == {"a": Decimal("2.25")}


# ------------------------------------------------------------------ teams
@pytest.mark.parametrize(
    ("changes", "team"),
    [
        ([("team.displayName", _DELETE)], dataclasses.replace(HOME_TEAM, display_name="Rams")),
        ([("team.displayName", "  ")], dataclasses.replace(HOME_TEAM, display_name="Rams")),
        ([("team.displayName", "TBD")], None),
        ([("team.displayName", "tbd")], None),
        ([("team.displayName", " Tbd ")], None),
        ([("team.displayName", _DELETE), ("team.name", "TBD")], None),
        ([("team.displayName", _DELETE), ("team.name", _DELETE)], None),
        ([("team.id", _DELETE)], None),
        ([("team.id", "")], None),
        ([("team.id", True)], None),
        ([("team.id", 13)], HOME_TEAM),
        ([("team", "River Rams")], None),
        ([("team", _DELETE)], None),
        ([("team.abbreviation", " RIV ")], HOME_TEAM),
        ([("team.abbreviation", "")], dataclasses.replace(HOME_TEAM, abbreviation=None)),
        ([("team.abbreviation", "  ")], dataclasses.replace(HOME_TEAM, abbreviation=None)),
        ([("team.abbreviation", 5)], dataclasses.replace(HOME_TEAM, abbreviation="5")),
        ([("team.abbreviation", True)], dataclasses.replace(HOME_TEAM, abbreviation=None)),
        ([("team.abbreviation", 5.5)], dataclasses.replace(HOME_TEAM, abbreviation=None)),
        ([("team.abbreviation", ["RIV"])], dataclasses.replace(HOME_TEAM, abbreviation=None)),
    ],
)
def test_team_fallbacks(changes: list[tuple[str, Any]], team: Team | None) -> None:
    event = _event(*((f"{HOME_PATH}.{path}", value) for path, value in changes))
    assert _parse(event) == _home(team=team)


# ------------------------------------------------------------------ venue
@pytest.mark.parametrize(
    ("changes", "venue"),
    [
        ([("venue", "River Arena")], None),
        ([("venue", _DELETE)], None),
        ([("venue.id", _DELETE)], None),
        ([("venue.id", 3622)], VENUE),
        ([("venue.fullName", _DELETE)], dataclasses.replace(VENUE, name="River Field")),
        ([("venue.fullName", " ")], dataclasses.replace(VENUE, name="River Field")),
        ([("venue.fullName", _DELETE), ("venue.name", _DELETE)], None),
        (
            [("venue.address", _DELETE)],
            dataclasses.replace(VENUE, city=None, state=None, country=None),
        ),
        (
            [("venue.address", "Riverton, WA")],
            dataclasses.replace(VENUE, city=None, state=None, country=None),
        ),
        ([("venue.indoor", "true")], dataclasses.replace(VENUE, indoor=None)),
        ([("venue.indoor", 1)], dataclasses.replace(VENUE, indoor=None)),
        ([("venue.indoor", False)], dataclasses.replace(VENUE, indoor=False)),
    ],
)
def test_venue_fallbacks(changes: list[tuple[str, Any]], venue: Venue | None) -> None:
    event = _event(*((f"competitions.0.{path}", value) for path, value in changes))
    assert _parse(event) == _game(venue=venue)


# ------------------------------------------------------------------ event fields
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("competitions.0.date", _DELETE)],
            _game(start_time=dt.datetime(2026, 10, 4, 17, 0, tzinfo=dt.UTC)),
        ),
        (
            [("competitions.0.date", "TBD")],
            _game(start_time=dt.datetime(2026, 10, 4, 17, 0, tzinfo=dt.UTC)),
        ),
        ([("competitions.0.date", _DELETE), ("date", _DELETE)], _game(start_time=None)),
        ([("competitions.0.neutralSite", "false")], _game(neutral_site=None)),
        ([("competitions.0.neutralSite", False)], _game(neutral_site=False)),
        ([("competitions.0.neutralSite", _DELETE)], _game(neutral_site=None)),
        ([("name", _DELETE), ("shortName", "")], _game(name=None, short_name=None)),
        ([("name", 7), ("shortName", " LAK@RIV ")], _game(name="7", short_name="LAK@RIV")),
        ([("id", 401800001)], EXPECTED),
        ([("id", f" {EVENT_ID} ")], EXPECTED),
        ([("season", {"year": "2026", "type": {"type": 3}})], _game(season_type="postseason")),
        ([("season", "2026")], _game(season_year=None, season_type=None)),
        ([("season", _DELETE)], _game(season_year=None, season_type=None)),
        ([("week", _DELETE)], _game(week=None)),
        ([("week", 5)], _game(week=None)),
    ],
)
def test_event_field_fallbacks(changes: list[tuple[str, Any]], expected: Game) -> None:
    assert _parse(_event(*changes)) == expected


@pytest.mark.parametrize(
    ("value", "week"),
    [
        (12, 12),
        (0, 0),
        ("123456789", 123456789),
        ("1234567890", None),
        (" 12 ", 12),
        ("-5", -5),
        ("+5", None),
        ("1e3", None),
        ("12a", None),
        ("", None),
        (True, None),
        (False, None),
        (7.0, 7),  # arrives as Decimal("7.0")
        (1e3, 1000),  # arrives as Decimal("1000.0")
        (7.5, None),
        (float("nan"), None),
        (float("inf"), None),
        (None, None),
        ([5], None),
    ],
)
def test_week_numbers(value: Any, week: int | None) -> None:
    assert _parse(_event(("week.number", value))) == _game(week=week)


@pytest.mark.parametrize(("value", "week"), [(7.0, 7), (7.5, None), (Decimal("8"), 8)])
def test_week_numbers_that_did_not_come_through_json(value: Any, week: int | None) -> None:
    event = decode_json(json.dumps(FULL))
    event["week"]["number"] = value
    assert parse_event(event, "nfl") == _game(week=week)


# ------------------------------------------------------------------ competitors
@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ("7", 7),
        (" 7 ", 7),
        (0, 0),
        ("0", 0),
        (9999, 9999),
        ("9999", 9999),
        (10000, None),
        (-1, None),
        ("-1", None),
        ("", None),
        (True, None),
        ("7.5", None),
        (7.0, 7),
        (None, None),
        ({"value": 7.0}, 7),
        ({"displayValue": "14"}, 14),
        ({"value": 3, "displayValue": "9"}, 3),
        ({"value": 10000}, None),
        ({}, None),
    ],
)
def test_scores(score: Any, expected: int | None) -> None:
    assert _parse(_event((f"{HOME_PATH}.score", score))) == _home(score=expected)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"type": "total", "summary": "3-1"}], "3-1"),
        ([{"name": "overall", "summary": "3-1"}], "3-1"),
        # the overall record found by one of its two marks after another record
        (
            [
                {"name": "Home", "type": "home", "summary": "2-0"},
                {"name": "All games", "type": "total", "summary": "3-1"},
            ],
            "3-1",
        ),
        (
            [
                {"name": "Home", "type": "home", "summary": "2-0"},
                {"name": "overall", "type": "vsconf", "summary": "3-1"},
            ],
            "3-1",
        ),
        (
            [
                {"name": "overall", "type": "total", "summary": "3-1"},
                {"name": "overall", "type": "total", "summary": "9-9"},
            ],
            "3-1",
        ),
        # neither mark: the first record
        (
            [
                {"name": "Home", "type": "home", "summary": "2-0"},
                {"name": "Road", "type": "road", "summary": "1-1"},
            ],
            "2-0",
        ),
        (["3-1", {"type": "road", "summary": "1-1"}, {"type": "home", "summary": "2-0"}], "1-1"),
        ([{"type": " total ", "summary": " 3-1 "}], "3-1"),
        ([{"type": "total"}], None),
        (["3-1"], None),
        ([], None),
        ("3-1", None),
        (None, None),
    ],
)
def test_overall_record(records: Any, expected: str | None) -> None:
    assert _parse(_event((f"{HOME_PATH}.records", records))) == _home(record=expected)


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        ({"current": 1}, 1),
        ({"current": 25}, 25),
        ({"current": 98}, 98),
        ({"current": "7"}, 7),
        ({"current": 0}, None),
        ({"current": 99}, None),
        ({"current": 100}, None),
        ({"current": -1}, None),
        ({}, None),
        (7, None),
        ("7", None),
    ],
)
def test_ranks(rank: Any, expected: int | None) -> None:
    assert _parse(_event((f"{HOME_PATH}.curatedRank", rank))) == _home(rank=expected)


def test_no_rank() -> None:
    assert _parse(_event((f"{HOME_PATH}.curatedRank", _DELETE))) == _home(rank=None)


@pytest.mark.parametrize(
    ("winner", "expected"), [(True, True), (False, False), ("true", None), (1, None), (None, None)]
)
def test_winner(winner: Any, expected: bool | None) -> None:
    assert _parse(_event((f"{HOME_PATH}.winner", winner))) == _home(winner=expected)


def test_linescores_keep_the_numbers_only() -> None:
    lines = [
        {"value": 0.1},
        "7",
        {"value": None},
        {"value": "x"},
        {"value": float("nan")},
        {"value": float("inf")},
        {"value": " 1.5 "},
        {"value": 3},
        {"value": True},
        {"displayValue": "4"},
        {"value": ""},
    ]
    game = _parse(_event((f"{HOME_PATH}.linescores", lines)))
    assert game == _home(linescores=(Decimal("0.1"), Decimal("1.5"), Decimal("3")))
    assert [str(v) for v in game.home.linescores] == ["0.1", "1.5", "3"]


def test_linescores_that_did_not_come_through_json() -> None:
    event = decode_json(json.dumps(FULL))
    event["competitions"][0]["competitors"][1]["linescores"] = [
        {"value": 0.1},  # a float: its shortest text, not its binary expansion
        {"value": Decimal("NaN")},
        {"value": Decimal("2.5")},
        {"value": Decimal("-Infinity")},
        {"value": 4},
    ]
    game = parse_event(event, "nfl")
    assert game == _home(linescores=(Decimal("0.1"), Decimal("2.5"), Decimal("4")))
    assert [str(v) for v in game.home.linescores] == ["0.1", "2.5", "4"]


@pytest.mark.parametrize("linescores", ["7,10", None, {"value": 7}])
def test_linescores_not_a_list(linescores: Any) -> None:
    assert _parse(_event((f"{HOME_PATH}.linescores", linescores))) == _home(linescores=())


# ------------------------------------------------------------------ status fields
@pytest.mark.parametrize(
    ("period", "expected"), [(99, 99), (0, 0), (1, 1), (100, None), (-1, None), ("4", 4)]
)
def test_periods(period: Any, expected: int | None) -> None:
    assert _parse(_event(("competitions.0.status.period", period))) == _game(period=expected)


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (0, "0.00"),
        (12, "12.00"),
        (302.5, "302.50"),
        ("12.345", "12.34"),  # half-even, as NUMERIC(10,2) is written
        ("12.355", "12.36"),
        (999999.994, "999999.99"),
        (999999.99, "999999.99"),
        (-1, None),
        (-0.01, None),
        (1e6, None),
        (1000000, None),
        (True, None),
        ("abc", None),
        (float("nan"), None),
        (float("inf"), None),
        (None, None),
    ],
)
def test_clocks(clock: Any, expected: str | None) -> None:
    game = _parse(_event(("competitions.0.status.clock", clock)))
    assert game == _game(clock_seconds=None if expected is None else Decimal(expected))
    assert str(game.clock_seconds) == str(expected)


def test_the_event_level_status_when_the_competition_has_none() -> None:
    event = _event(("competitions.0.status", _DELETE))
    assert _parse(event) == _game(status_detail=None)
    event = _event(("competitions.0.status", "STATUS_IN_PROGRESS"))
    assert _parse(event) == _game(status_detail=None)


def test_the_detail_falls_back_to_the_long_one() -> None:
    event = _event(("competitions.0.status.type.shortDetail", _DELETE))
    assert _parse(event) == _game(status_detail="5:02 - 3rd Quarter")
    event = _event(
        ("competitions.0.status.type.shortDetail", _DELETE),
        ("competitions.0.status.type.detail", _DELETE),
    )
    assert _parse(event) == _game(status_detail=None)


def test_a_status_without_type() -> None:
    event = _event(("competitions.0.status.type", "STATUS_IN_PROGRESS"))
    assert _parse(event) == _game(status="pre", status_detail=None, situation=None)


def test_a_completed_game() -> None:
    event = _event(
        ("competitions.0.status.type.name", "STATUS_FINAL"),
        ("competitions.0.status.type.state", "post"),
        ("competitions.0.status.type.completed", True),
        ("competitions.0.status.type.shortDetail", "Final"),
    )
    game = _parse(event)
    assert game == _game(status="final", status_detail="Final", completed=True, situation=None)
    assert game.is_final
    assert not game.is_live


def test_completed_must_be_the_json_true() -> None:
    event = _event(
        ("competitions.0.status.type.name", "STATUS_FINAL"),
        ("competitions.0.status.type.state", "post"),
        ("competitions.0.status.type.completed", "true"),
    )
    # a final name without proof is an end of period: still live, so the situation is kept
    assert _parse(event) == _game(status="end_of_period", completed=False)


@pytest.mark.parametrize(
    ("name", "state", "status"),
    [
        ("STATUS_HALFTIME", "in", "halftime"),
        ("STATUS_END_PERIOD", "in", "end_of_period"),
        ("STATUS_DELAYED", "in", "delayed"),
    ],
)
def test_the_situation_is_kept_while_live(name: str, state: str, status: str) -> None:
    event = _event(
        ("competitions.0.status.type.name", name), ("competitions.0.status.type.state", state)
    )
    assert _parse(event) == _game(status=status)


@pytest.mark.parametrize(
    ("name", "state", "status"),
    [
        ("STATUS_SCHEDULED", "pre", "pre"),
        ("STATUS_POSTPONED", "post", "postponed"),
        ("STATUS_SUSPENDED", "in", "suspended"),
    ],
)
def test_the_situation_is_dropped_when_not_live(name: str, state: str, status: str) -> None:
    event = _event(
        ("competitions.0.status.type.name", name), ("competitions.0.status.type.state", state)
    )
    assert _parse(event) == _game(status=status, situation=None)


# ------------------------------------------------------------------ situation
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("down", 1, _situation(down=1)),
        ("down", 4, _situation(down=4)),
        ("down", 0, _situation(down=None)),
        ("down", -1, _situation(down=None)),
        ("down", 5, _situation(down=None)),
        ("down", "3", _situation(down=3)),
        ("distance", 0, _situation(distance=0)),
        ("distance", 100, _situation(distance=100)),
        ("distance", 101, _situation(distance=None)),
        ("distance", -1, _situation(distance=None)),
        ("yardLine", 0, _situation(yard_line=0)),
        ("yardLine", 100, _situation(yard_line=100)),
        ("yardLine", 101, _situation(yard_line=None)),
        ("yardLine", -1, _situation(yard_line=None)),
        ("homeTimeouts", 0, _situation(home_timeouts=0)),
        ("homeTimeouts", 10, _situation(home_timeouts=10)),
        ("homeTimeouts", 11, _situation(home_timeouts=None)),
        ("homeTimeouts", -1, _situation(home_timeouts=None)),
        ("awayTimeouts", 0, _situation(away_timeouts=0)),
        ("awayTimeouts", 10, _situation(away_timeouts=10)),
        ("awayTimeouts", 11, _situation(away_timeouts=None)),
        ("awayTimeouts", -1, _situation(away_timeouts=None)),
        ("isRedZone", False, _situation(red_zone=False)),
        ("isRedZone", "true", _situation(red_zone=None)),
        ("possession", HOME_ID, _situation(possession="home")),
        ("possession", 14, _situation(possession="away")),
        ("possession", "99", _situation(possession=None)),
        ("possession", "", _situation(possession=None)),
        ("possession", _DELETE, _situation(possession=None)),
    ],
)
def test_situation_fields(field: str, value: Any, expected: Game) -> None:
    assert _parse(_event((f"competitions.0.situation.{field}", value))) == expected


@pytest.mark.parametrize(
    ("side_path", "possession", "expected_side"),
    [
        (HOME_PATH, AWAY_ID, "away"),
        (HOME_PATH, "99", None),
        (AWAY_PATH, HOME_ID, "home"),
        (AWAY_PATH, "99", None),
        (AWAY_PATH, AWAY_ID, None),  # a TBD team has no id to match
    ],
)
def test_possession_with_a_tbd_team(
    side_path: str, possession: str, expected_side: str | None
) -> None:
    event = _event(
        (f"{side_path}.team.displayName", "TBD"),
        ("competitions.0.situation.possession", possession),
    )
    game = _parse(event)
    assert game.situation == dataclasses.replace(SITUATION, possession=expected_side)
    assert (game.home.team is None) == (side_path == HOME_PATH)
    assert (game.away.team is None) == (side_path == AWAY_PATH)


@pytest.mark.parametrize(
    ("situation", "expected"),
    [
        ({}, None),
        ({"lastPlay": {"text": "J.Doe run for 4 yards"}, "down": 0, "possession": "99"}, None),
        ({"isRedZone": False}, Situation(red_zone=False)),
        ({"down": 3}, Situation(down=3)),
        ({"awayTimeouts": 0}, Situation(away_timeouts=0)),
        ("2nd & 7", None),
    ],
)
def test_situations_with_few_fields(situation: Any, expected: Situation | None) -> None:
    assert _parse(_event(("competitions.0.situation", situation))) == _game(situation=expected)


def test_situation_as_json() -> None:
    assert SITUATION.as_json() == {
        "down": 2,
        "distance": 7,
        "yard_line": 33,
        "possession": "away",
        "red_zone": True,
        "home_timeouts": 3,
        "away_timeouts": 1,
    }
    assert Situation().as_json() == dict.fromkeys(
        ("down", "distance", "yard_line", "possession", "red_zone", "home_timeouts",
         "away_timeouts")
    )  # fmt: skip


# ------------------------------------------------------------------ malformed events
def _home_entry() -> dict[str, Any]:
    return copy.deepcopy(FULL["competitions"][0]["competitors"][1])


def _away_entry() -> dict[str, Any]:
    return copy.deepcopy(FULL["competitions"][0]["competitors"][0])


@pytest.mark.parametrize(
    "competitors",
    [
        pytest.param(["home", _home_entry(), _away_entry()], id="not-an-object"),
        pytest.param([_home_entry(), "away"], id="away-not-an-object"),
        pytest.param([_home_entry(), {}], id="empty-object"),
        pytest.param([_home_entry(), {**_away_entry(), "homeAway": "neutral"}], id="neutral"),
        pytest.param([_home_entry(), {**_away_entry(), "homeAway": None}], id="no-side"),
        pytest.param([_home_entry(), _home_entry(), _away_entry()], id="two-homes"),
        pytest.param([_away_entry(), _home_entry(), _away_entry()], id="two-aways"),
        pytest.param([_home_entry()], id="home-only"),
        pytest.param([_away_entry()], id="away-only"),
        pytest.param([], id="none"),
        pytest.param({"home": _home_entry(), "away": _away_entry()}, id="not-a-list"),
    ],
)
def test_competitors_must_be_one_home_and_one_away(competitors: Any) -> None:
    with pytest.raises(EspnParseError) as caught:
        _parse(_event(("competitions.0.competitors", competitors)))
    assert str(caught.value) == SIDES_MESSAGE
    assert caught.value.field == "competitions[0].competitors"
    assert caught.value.problem == "must be one home and one away object"
    assert caught.value.event_id == EVENT_ID


def test_sides_are_read_from_home_away_with_spaces() -> None:
    event = _event((f"{HOME_PATH}.homeAway", " home "), (f"{AWAY_PATH}.homeAway", " away"))
    assert _parse(event) == EXPECTED


@pytest.mark.parametrize(
    ("event", "message", "field", "problem", "event_id"),
    [
        (
            ["not", "an", "event"],
            "malformed scoreboard from ESPN: events[] is not an object",
            "events[]",
            "is not an object",
            None,
        ),
        (
            _event(("id", _DELETE)),
            "malformed scoreboard from ESPN: id is missing or empty",
            "id",
            "is missing or empty",
            None,
        ),
        (
            _event(("id", "  ")),
            "malformed scoreboard from ESPN: id is missing or empty",
            "id",
            "is missing or empty",
            None,
        ),
        (
            _event(("competitions", [])),
            f"malformed event {EVENT_ID} from ESPN: competitions has no competition",
            "competitions",
            "has no competition",
            EVENT_ID,
        ),
        (
            _event(("competitions", ["x", FULL["competitions"][0]])),
            f"malformed event {EVENT_ID} from ESPN: competitions has no competition",
            "competitions",
            "has no competition",
            EVENT_ID,
        ),
        (
            _event(("competitions", _DELETE)),
            f"malformed event {EVENT_ID} from ESPN: competitions has no competition",
            "competitions",
            "has no competition",
            EVENT_ID,
        ),
        (
            _event(("competitions.0.status", _DELETE), ("status", _DELETE)),
            f"malformed event {EVENT_ID} from ESPN: status is missing",
            "status",
            "is missing",
            EVENT_ID,
        ),
        (
            _event(("competitions.0.status", "in"), ("status", "in")),
            f"malformed event {EVENT_ID} from ESPN: status is missing",
            "status",
            "is missing",
            EVENT_ID,
        ),
    ],
)
def test_events_that_are_not_games(
    event: Any, message: str, field: str, problem: str, event_id: str | None
) -> None:
    with pytest.raises(EspnParseError) as caught:
        _parse(event)
    assert str(caught.value) == message
    assert (caught.value.field, caught.value.problem) == (field, problem)
    assert caught.value.event_id == event_id
    assert caught.value.status is None
    assert caught.value.path is None


def test_a_later_competition_is_ignored() -> None:
    second = copy.deepcopy(FULL["competitions"][0])
    second["venue"] = "elsewhere"
    assert _parse(_event(("competitions", [FULL["competitions"][0], second]))) == EXPECTED


def test_espn_error_keeps_status_and_path() -> None:
    error = EspnError("ESPN answered 503", status=503, path="/football/nfl/scoreboard")
    assert str(error) == "ESPN answered 503"
    assert (error.status, error.path) == (503, "/football/nfl/scoreboard")
    plain = EspnError("no answer")
    assert (plain.status, plain.path) == (None, None)


# ------------------------------------------------------------------ map_status
def _kind(name: str, state: str, completed: Any = False, **details: str) -> dict[str, Any]:
    return {"type": {"name": name, "state": state, "completed": completed, **details}}


# Each name with a `state` whose fallback would give another status.
STATUS_TABLE = [
    ("STATUS_SCHEDULED", "in", "pre"),
    ("STATUS_PREGAME", "post", "pre"),
    ("STATUS_IN_PROGRESS", "post", "in_progress"),
    ("STATUS_FIRST_HALF", "pre", "in_progress"),
    ("STATUS_SECOND_HALF", "post", "in_progress"),
    ("STATUS_OVERTIME", "pre", "in_progress"),
    ("STATUS_SHOOTOUT", "post", "in_progress"),
    ("STATUS_HALFTIME", "post", "halftime"),
    ("STATUS_END_PERIOD", "post", "end_of_period"),
    ("STATUS_END_OF_REGULATION", "pre", "end_of_period"),
    # final names without `completed`: not confirmed, so an end of period
    ("STATUS_FINAL", "post", "end_of_period"),
    ("STATUS_FULL_TIME", "post", "end_of_period"),
    ("STATUS_FINAL_OT", "post", "end_of_period"),
    ("STATUS_FINAL_SO", "in", "end_of_period"),
    ("STATUS_FINAL_PEN", "pre", "end_of_period"),
    ("STATUS_FORFEIT", "post", "end_of_period"),
    ("STATUS_POSTPONED", "post", "postponed"),
    ("STATUS_CANCELED", "post", "cancelled"),
    ("STATUS_CANCELLED", "in", "cancelled"),
    ("STATUS_DELAYED", "post", "delayed"),
    ("STATUS_RAIN_DELAY", "pre", "delayed"),
    ("STATUS_SUSPENDED", "in", "suspended"),
    # case and spaces do not matter
    ("status_halftime", "post", "halftime"),
    (" STATUS_DELAYED ", "post", "delayed"),
    # unknown names: by state
    ("STATUS_NEW_THING", "IN", "in_progress"),
    ("STATUS_NEW_THING", " in ", "in_progress"),
    ("STATUS_NEW_THING", "Post", "suspended"),
    ("STATUS_NEW_THING", "pre", "pre"),
    ("STATUS_NEW_THING", "", "pre"),
]


@pytest.mark.parametrize(("name", "state", "expected"), STATUS_TABLE)
def test_status_names(name: str, state: str, expected: str) -> None:
    assert map_status(_kind(name, state)) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (_kind("STATUS_FINAL", "post", True), "final"),
        (_kind("STATUS_FULL_TIME", "post", True), "final"),
        (_kind("STATUS_FORFEIT", "post", True), "final"),
        (_kind("STATUS_FINAL_OT", "post", True), "final_ot"),
        (_kind("STATUS_FINAL_SO", "post", True), "final_ot"),
        (_kind("STATUS_FINAL_PEN", "post", True), "final_ot"),
        (_kind("STATUS_IN_PROGRESS", "in", True), "final"),
        (_kind("STATUS_NEW_THING", "pre", True), "final"),
        # overtime said by any of the three texts
        (_kind("STATUS_FINAL", "post", True, detail="Final/OT"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, shortDetail="Final/2OT"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, description="Final - Overtime"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, detail="final/ot"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, detail="Final/SO"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, detail="Final after shootout"), "final_ot"),
        # the texts are read as words: joined by spaces, not glued together
        (_kind("STATUS_FINAL", "post", True, detail="Final", shortDetail="OT"), "final_ot"),
        (_kind("STATUS_FINAL", "post", True, detail="Final", description="Full Time"), "final"),
        (_kind("STATUS_FINAL", "post", True, detail="Final/HOT"), "final"),
        # completed must be the JSON true
        (_kind("STATUS_FINAL", "post", "true"), "end_of_period"),
        (_kind("STATUS_FINAL", "post", 1), "end_of_period"),
        ({"type": "STATUS_FINAL"}, "pre"),
    ],
)
def test_completed_statuses(status: Any, expected: str) -> None:
    assert map_status(status) == expected


def test_map_status_accepts_any_mapping() -> None:
    status = types.MappingProxyType(
        {"type": types.MappingProxyType({"name": "STATUS_HALFTIME", "state": "post"})}
    )
    assert map_status(status) == "halftime"


# ------------------------------------------------------------------ season types and times
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "preseason"),
        (2, "regular"),
        (3, "postseason"),
        (4, "off-season"),
        ("2", "regular"),
        ({"type": 3}, "postseason"),
        ({"id": "1"}, "preseason"),
        ({"type": 4, "id": 1}, "off-season"),
        ({"type": "x", "id": 1}, None),
        ({}, None),
        (0, None),
        (5, None),
        ("x", None),
        (None, None),
        (True, None),
    ],
)
def test_season_type_words(value: Any, expected: str | None) -> None:
    assert season_type_word(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-04T20:05Z", dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)),
        ("2026-10-04T20:05:30Z", dt.datetime(2026, 10, 4, 20, 5, 30, tzinfo=dt.UTC)),
        (" 2026-10-04T20:05Z ", dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)),
        ("2026-10-04T22:05+02:00", dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)),
        ("2026-10-04T20:05", dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)),
        ("2026-10-04T20:05+00:00", dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)),
        # a day alone is its midnight in UTC, with or without the zone letter
        ("2026-10-04", dt.datetime(2026, 10, 4, tzinfo=dt.UTC)),
        ("2026-10-04Z", dt.datetime(2026, 10, 4, tzinfo=dt.UTC)),
        # ESPN's zone letter is the upper-case Z; anything else is an odd field
        ("2026-10-04T20:05z", None),
        ("2026-10-04 TBD", None),
        ("", None),
        (None, None),
        (20261004, None),
    ],
)
def test_parse_time(value: Any, expected: dt.datetime | None) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is dt.UTC


# time.tzset exists on POSIX only; on Windows the other tests of this file fill the same cell
# (a counterpart, never a skip).
if CAN_SET_LOCAL_ZONE:

    @pytest.mark.usefixtures("local_zone_east_of_utc")
    def test_a_time_without_zone_is_utc_not_local_time() -> None:
        local = dt.datetime(2026, 10, 4, 20, 5).astimezone()
        assert local.utcoffset() == dt.timedelta(hours=2)  # the local zone took effect
        parsed = parse_time("2026-10-04T20:05")
        assert parsed == dt.datetime(2026, 10, 4, 20, 5, tzinfo=dt.UTC)
        assert parsed is not None
        assert parsed.tzinfo is dt.UTC
        assert _parse(_event(("competitions.0.date", "2026-10-04T17:05"))) == EXPECTED


# ------------------------------------------------------------------ scoreboards
def test_an_empty_scoreboard() -> None:
    board = parse_scoreboard({}, "wnba")
    assert (board.league, board.games, board.errors) == ("wnba", (), ())
    assert (board.season_year, board.season_type, board.week, board.day) == (None,) * 4


def test_scoreboard_fields() -> None:
    body = {
        "season": {"year": 2026, "type": 3},
        "week": {"number": 19},
        "day": {"date": "2027-01-09"},
        "events": [FULL],
    }
    board = parse_scoreboard(decode_json(json.dumps(body)), "nfl")
    assert board.games == (EXPECTED,)
    assert board.errors == ()
    assert (board.league, board.season_year, board.season_type) == ("nfl", 2026, "postseason")
    assert (board.week, board.day) == (19, dt.date(2027, 1, 9))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ({"date": "2026-13-01"}, None),
        ({"date": " 2026-12-25 "}, dt.date(2026, 12, 25)),
        ({"date": ""}, None),
        ({"date": 20261225}, None),
        ("2026-12-25", None),
    ],
)
def test_scoreboard_days(day: Any, expected: dt.date | None) -> None:
    assert parse_scoreboard({"day": day}, "nba").day == expected


def test_duplicate_events_keep_one_game_in_first_position() -> None:
    other = _event(("id", "401800002"))
    again = _event(("competitions.0.status.period", 4))
    board = parse_scoreboard({"events": [FULL, other, again]}, "nfl")
    assert board.games == (_game(period=4), _game(event_id="401800002"))
    assert board.errors == ()


def test_malformed_events_are_listed_and_the_others_kept() -> None:
    no_status = _event(("id", "401800003"), ("competitions.0.status", _DELETE), ("status", None))
    one_side = _event(("id", "401800004"), ("competitions.0.competitors", [_home_entry()]))
    other = _event(("id", "401800002"))
    board = parse_scoreboard({"events": [no_status, FULL, "x", one_side, other]}, "nfl")
    assert board.games == (EXPECTED, _game(event_id="401800002"))
    assert [str(e) for e in board.errors] == [
        "malformed event 401800003 from ESPN: status is missing",
        "malformed scoreboard from ESPN: events[] is not an object",
        "malformed event 401800004 from ESPN: "
        "competitions[0].competitors must be one home and one away object",
    ]
    assert [e.event_id for e in board.errors] == ["401800003", None, "401800004"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "malformed scoreboard from ESPN: body is not a JSON object"),
        (None, "malformed scoreboard from ESPN: body is not a JSON object"),
        ({"events": None}, "malformed scoreboard from ESPN: events is not a list"),
        ({"events": {}}, "malformed scoreboard from ESPN: events is not a list"),
    ],
)
def test_bodies_that_are_not_scoreboards(body: Any, message: str) -> None:
    with pytest.raises(EspnParseError) as caught:
        parse_scoreboard(body, "nfl")
    assert str(caught.value) == message
    assert caught.value.event_id is None
