"""Properties of espn_client: the scoreboard parser is total on arbitrary JSON (a Scoreboard
or EspnParseError, never another exception; every event kept or counted), the status mapping
is total and `completed` is the only way to a final, and simulated games only move forward."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precog.api_connectors.espn_models import (
    FINAL_STATUSES,
    STATUSES,
    EspnParseError,
    decode_json,
    map_status,
    parse_event,
    parse_scoreboard,
)
from precog.sandbox.espn import SHAPES, EspnSimulator, day_schedule
from tests.plugins.espn_cassettes import GAMEDAY, load_cassette

pytestmark = pytest.mark.module("espn_client")

SCALARS = (
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.decimals(allow_nan=True)
    | st.floats() | st.text(max_size=12)
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["id", "date", "competitions", "competitors", "homeAway", "score", "team", "status",
     "type", "name", "state", "completed", "clock", "period", "situation", "venue", "season",
     "linescores", "curatedRank", "possession", "down", "yardLine", "records", "week"]
)  # fmt: skip
TEMPLATE = load_cassette(GAMEDAY["nfl"])["response"]["body"]


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace one node (chosen by `path` indexes) of a JSON tree by `replacement`."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    value[key] = _mutate(value[key], path[1:], replacement)
    return value


def _check(body: Any) -> None:
    try:
        board = parse_scoreboard(body, "nfl")
    except EspnParseError:
        return
    events = body.get("events", []) if isinstance(body, dict) else []
    assert len(board.games) + len(board.errors) <= len(events)
    assert len(board.errors) <= len(events)
    ids = [g.event_id for g in board.games]
    assert len(ids) == len(set(ids))
    for game in board.games:
        assert game.status in STATUSES
        assert (game.status in FINAL_STATUSES) == game.completed
        for side in (game.home, game.away):
            assert side.score is None or side.score >= 0
        assert game.start_time is None or game.start_time.tzinfo is not None
        assert game.situation is None or game.is_live


@given(JSON)
def test_parser_is_total_on_arbitrary_json(body: Any) -> None:
    _check(body)
    _check({"events": body})
    _check({"events": [body, body]})


@given(st.lists(st.integers(0, 50), max_size=8), JSON | KEYS)
def test_parser_is_total_on_damaged_real_scoreboards(path: list[int], replacement: Any) -> None:
    body = _mutate(copy.deepcopy(TEMPLATE), path, replacement)
    _check(body)
    events = body.get("events") if isinstance(body, dict) else None
    if isinstance(events, list) and len(events) == len(TEMPLATE["events"]):
        board = parse_scoreboard(body, "nfl")
        # one damaged node costs at most one event
        assert len(board.games) + len(board.errors) >= len(TEMPLATE["events"]) - 1


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["STATUS_FINAL", "STATUS_HALFTIME", "X"]) | JSON,
                    "state": st.sampled_from(["pre", "in", "post"]) | JSON,
                    "completed": JSON,
                    "detail": st.sampled_from(["Final/OT", "Halftime"]) | JSON,
                },
            )
            | JSON
        },
    )
    | JSON
)
def test_status_mapping_is_total_and_completed_decides_final(status: Any) -> None:
    mapped = map_status(status)
    assert mapped in STATUSES
    kind = status.get("type") if isinstance(status, dict) else None
    completed = isinstance(kind, dict) and kind.get("completed") is True
    assert (mapped in FINAL_STATUSES) == completed


@given(
    st.integers(0, 3),
    st.sampled_from(sorted(SHAPES)),
    st.integers(0, 20),
    st.lists(st.integers(0, 12 * 3600), min_size=2, max_size=5),
)
def test_simulated_games_only_move_forward(
    seed: int, league: str, first: int, offsets: list[int]
) -> None:
    day = dt.date(2026, 11, 7)
    games = day_schedule(seed, league, day)[first : first + 8]
    start = dt.datetime.combine(day, dt.time(15, 0), dt.UTC)
    previous: dict[str, tuple[int, int, int, bool]] = {}
    for offset in sorted(offsets):
        now = start + dt.timedelta(seconds=offset)
        sim = EspnSimulator(seed=seed, now=lambda now=now: now)
        for sim_game in games:
            game = parse_event(decode_json(json.dumps(sim.event_json(sim_game, now))), league)
            now_state = (game.period or 0, game.home.score or 0, game.away.score or 0,
                         game.completed)  # fmt: skip
            before = previous.get(game.event_id)
            if before is not None:
                assert now_state[0] >= before[0]  # periods never go back
                assert now_state[1] >= before[1]  # nor do scores
                assert now_state[2] >= before[2]
                assert now_state[3] >= before[3]  # a final stays final
            previous[game.event_id] = now_state
            if game.completed:
                assert game.home.score != game.away.score  # overtime decides
