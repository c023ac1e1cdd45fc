"""Properties of espn_client: the scoreboard parser is total on arbitrary JSON (a Scoreboard
or EspnParseError, never another exception; every event kept or counted), the status mapping
is total and `completed` is the only way to a final, and simulated games only move forward."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precog.api_connectors.espn_models import (
    FINAL_STATUSES,
    MAX_PERIOD,
    MAX_SCORE,
    STATUSES,
    EspnParseError,
    Game,
    decode_json,
    map_status,
    parse_event,
    parse_scoreboard,
)
from precog.config.environment import Environment
from precog.database.connection import Database, PoolSettings
from precog.database.crud_operations.sports import record_games
from precog.sandbox.espn import SHAPES, EspnSimulator, day_schedule
from tests.plugins.espn_cassettes import GAMEDAY, load_cassette
from tests.plugins.game_history import check_game_history

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
            assert side.score is None or 0 <= side.score <= MAX_SCORE
        assert game.period is None or 0 <= game.period <= MAX_PERIOD
        assert game.clock_seconds is None or 0 <= game.clock_seconds < 10**6
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


# Values at the edges of what columns accept, and fields that end up in a column.
EDGE_VALUES = [
    2**31, 2**40, -1, -(2**31) - 1, "", " ", "1e400", "NaN", "Infinity", "2147483648", "-0",
    1.5, Decimal("1e7"), Decimal("-0.01"), None, True, [], {}, "x" * 300,
]  # fmt: skip
EDGES = st.sampled_from(EDGE_VALUES)
_C = ("competitions", 0)
FIELDS = [
    ("id",), ("date",), ("season", "type"), (*_C, "date"), (*_C, "venue", "id"),
    (*_C, "venue", "fullName"), (*_C, "venue", "indoor"), (*_C, "status", "period"),
    (*_C, "status", "clock"), (*_C, "status", "displayClock"), (*_C, "status", "type", "name"),
    (*_C, "status", "type", "completed"), (*_C, "situation", "down"),
    (*_C, "situation", "yardLine"), (*_C, "situation", "homeTimeouts"),
    *((*_C, "competitors", i, key) for i in (0, 1) for key in ("score", "homeAway")),
    *((*_C, "competitors", i, "team", key) for i in (0, 1)
      for key in ("id", "displayName", "abbreviation", "color")),
]  # fmt: skip


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return
    if isinstance(node, dict):
        node[path[-1]] = value


def test_every_parsed_game_can_be_stored(db_url: str) -> None:
    """Whatever the parser accepts, the database accepts: a damaged field never becomes a
    value a column or CHECK refuses (which would fail the whole batch it is written in)."""
    loop = asyncio.new_event_loop()
    db = Database(db_url, env=Environment.TEST, description="property",
                  settings=PoolSettings(min_size=1, max_size=1, timeout=10))  # fmt: skip
    loop.run_until_complete(db.start())
    ticks = itertools.count(1)

    async def store(games: tuple[Game, ...]) -> None:
        observed = dt.datetime(2026, 10, 4, tzinfo=dt.UTC) + dt.timedelta(seconds=next(ticks))
        async with db.connection() as conn:
            await record_games(conn, games, observed)

    @given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(FIELDS), EDGES | JSON),
                    max_size=4))  # fmt: skip
    def damaged_boards_store(damage: list[tuple[int, tuple[Any, ...], Any]]) -> None:
        body = copy.deepcopy(TEMPLATE)
        for event, path, replacement in damage:
            _set(body["events"][event], path, replacement)
        try:
            board = parse_scoreboard(body, "nfl")
        except EspnParseError:
            return
        loop.run_until_complete(store(board.games))

    try:
        # Every edge value in every field (seven events per board, one damaged field each),
        # then random damage.
        cases = [(path, value) for value in EDGE_VALUES for path in FIELDS]
        for start in range(0, len(cases), 7):
            body = copy.deepcopy(TEMPLATE)
            for event, (path, value) in enumerate(cases[start : start + 7]):
                _set(body["events"][event], path, value)
            loop.run_until_complete(store(parse_scoreboard(body, "nfl").games))
        damaged_boards_store()
    finally:
        loop.run_until_complete(db.close())
        loop.close()
    assert check_game_history(db_url, monotonic=False) == []
