"""The sandbox's ESPN simulator (no sockets: the simulator object only): calendar, ESPN's
quirks (groups, limit, date ranges, shapes), game progress and determinism.

The sandbox is not one of the eleven modules, so these tests declare none."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from precog.sandbox.espn import (
    SHAPES,
    STATUS_LAG_SECONDS,
    EspnRequestRefusedError,
    EspnSimulator,
    day_schedule,
)

SATURDAY = dt.date(2026, 11, 7)


def _sim(at: dt.datetime, seed: int = 5) -> EspnSimulator:
    return EspnSimulator(seed=seed, now=lambda: at)


def _board(sim: EspnSimulator, path: str, **query: str) -> dict[str, Any]:
    sport, league = path.split("/")
    return sim.scoreboard(sport, league, query)


def _names(body: dict[str, Any]) -> list[str]:
    return [e["competitions"][0]["status"]["type"]["name"] for e in body["events"]]


def test_calendar_weekdays_and_the_college_saturday() -> None:
    at = dt.datetime(2026, 11, 9, tzinfo=dt.UTC)
    sim = _sim(at)
    assert len(_board(sim, "football/nfl", dates="20261108")["events"]) == 13  # Sunday
    assert _board(sim, "football/nfl", dates="20261110")["events"] == []  # Tuesday
    college = _board(sim, "football/college-football", dates="20261107", groups="80")
    assert len(college["events"]) == 60
    assert len(_board(sim, "football/college-football", dates="20261107")["events"]) == 10
    assert len(_board(sim, "basketball/mens-college-basketball", dates="20261107",
                      groups="50")["events"]) == 120  # fmt: skip
    for league in SHAPES:
        teams = [t for g in day_schedule(5, league, SATURDAY) for t in (g.home.id, g.away.id)]
        assert len(teams) == len(set(teams))  # nobody plays twice in a day


def test_espn_quirks_limit_ranges_and_unknown_paths() -> None:
    sim = _sim(dt.datetime(2026, 11, 9, tzinfo=dt.UTC))
    hoops = "basketball/mens-college-basketball"
    assert len(_board(sim, hoops, dates="20261107", groups="50", limit="600")["events"]) == 25
    assert len(_board(sim, hoops, dates="20261107", groups="50", limit="30")["events"]) == 30
    week = _board(sim, "basketball/nba", dates="20261102-20261108")
    assert len(week["events"]) == sum(SHAPES["nba"].games_by_weekday)
    with pytest.raises(EspnRequestRefusedError) as caught:
        _board(sim, "football/college-football", dates="20261107-20261108")
    assert caught.value.status == 400
    assert caught.value.body() == {"code": 400, "message": "Failed to get events endpoint."}
    with pytest.raises(EspnRequestRefusedError) as missing:
        _board(sim, "football/xfl")
    assert missing.value.status == 404
    with pytest.raises(EspnRequestRefusedError):
        _board(sim, "basketball/nba", dates="2026-11-07")


def test_shapes_follow_the_reference() -> None:
    at = dt.datetime(2026, 11, 7, 21, 0, tzinfo=dt.UTC)
    events = _board(_sim(at), "football/college-football", dates="20261107", groups="80")["events"]
    firsts = {e["competitions"][0]["competitors"][0]["homeAway"] for e in events}
    assert firsts == {"home", "away"}  # no fixed order
    for event in events:
        assert event["date"].endswith("Z")
        assert len(event["date"]) == len("2026-11-07T20:05Z")  # no seconds
        competition = event["competitions"][0]
        for competitor in competition["competitors"]:
            assert isinstance(competitor["score"], str)
        state = competition["status"]["type"]["state"]
        if "situation" in competition:
            assert competition["status"]["type"]["name"] == "STATUS_IN_PROGRESS"
            assert state == "in"
        assert competition["status"]["type"]["completed"] == (state == "post" and not
                                                              _postponed(competition))  # fmt: skip
    names = set(_names({"events": events}))
    assert {"STATUS_IN_PROGRESS", "STATUS_FINAL", "STATUS_SCHEDULED"} <= names


def _postponed(competition: dict[str, Any]) -> bool:
    return bool(competition["status"]["type"]["name"] == "STATUS_POSTPONED")


def test_a_game_runs_from_kickoff_to_final() -> None:
    game = next(
        g for g in day_schedule(5, "nfl", dt.date(2026, 11, 8))
        if not g.postponed and g.status_lag
    )  # fmt: skip
    sim = _sim(game.start)
    shape = SHAPES["nfl"]
    seen: list[tuple[str, int]] = []
    halftime_end = next(p.end for p in game.phases if p.kind == "halftime")
    probes = [-60.0, 10.0, halftime_end - 1, halftime_end + STATUS_LAG_SECONDS / 2,
              halftime_end + STATUS_LAG_SECONDS + 5, game.phases[-1].end + 1]  # fmt: skip
    for offset in probes:
        status = sim.state(game, game.start + dt.timedelta(seconds=offset))
        seen.append((status["type"]["name"], status["period"]))
    assert seen[0] == ("STATUS_SCHEDULED", 0)
    assert seen[1] == ("STATUS_IN_PROGRESS", 1)
    assert seen[2] == ("STATUS_HALFTIME", 2)
    assert seen[3] == ("STATUS_HALFTIME", 2)  # ESPN's lag into the third quarter
    assert seen[4] == ("STATUS_IN_PROGRESS", 3)
    final_name = "STATUS_FINAL_OT" if game.overtime else "STATUS_FINAL"
    assert seen[5] == (final_name, shape.periods + int(game.overtime))
    end = sim.event_json(game, game.start + dt.timedelta(seconds=probes[-1]))
    scores = [int(c["score"]) for c in end["competitions"][0]["competitors"]]
    assert scores[0] != scores[1]
    assert sum(c["winner"] for c in end["competitions"][0]["competitors"]) == 1


def test_same_seed_and_time_give_the_same_bytes() -> None:
    at = dt.datetime(2026, 11, 7, 22, 0, tzinfo=dt.UTC)
    one = json.dumps(_board(_sim(at), "hockey/nhl", dates="20261107"))
    two = json.dumps(_board(_sim(at), "hockey/nhl", dates="20261107"))
    other = json.dumps(_board(_sim(at, seed=6), "hockey/nhl", dates="20261107"))
    assert one == two
    assert one != other
    late = [g for g in day_schedule(5, "ncaab", SATURDAY) if g.start.date() > SATURDAY]
    assert late  # evening US games start after midnight UTC but belong to the US day
