"""Benchmark 5, ESPN parse: a college Saturday (every scoreboard of the day) into typed games.

The day's scoreboards from the ESPN simulator for Saturday 7 November 2026: college
football FBS (groups 80) and FCS (90), Division I men's basketball (50). Figure: bytes per
second through `decode_json` + `parse_scoreboard` (typed, validated games, `Decimal`
numbers); reference: `json.loads` of the same bytes. Target: at least 30% of raw decode.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.suite import Options, Result

TITLE = "ESPN parse: a college Saturday of scoreboards vs raw JSON decode"
NAME = "espn_parse"
SATURDAY = dt.datetime(2026, 11, 7, 20, 0, tzinfo=dt.UTC)
BOARDS = (
    ("ncaaf", "football", "college-football", "80"),
    ("ncaaf", "football", "college-football", "90"),
    ("ncaab", "basketball", "mens-college-basketball", "50"),
)


def _best_seconds(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run(options: Options) -> list[Result]:
    from precog.api_connectors.espn_models import decode_json, parse_scoreboard
    from precog.sandbox.espn import EspnSimulator

    sim = EspnSimulator(seed=42, now=lambda: SATURDAY)
    payloads = [
        (league, json.dumps(sim.scoreboard(sport, slug, {"dates": "20261107", "groups": g})))
        for league, sport, slug, g in BOARDS
    ]
    games = 0
    payloads = [(league, text.encode()) for league, text in payloads]  # type: ignore[misc]
    for league, body in payloads:
        board = parse_scoreboard(decode_json(body), league)
        assert not board.errors, board.errors
        games += len(board.games)
    size = sum(len(body) for _, body in payloads)
    rounds = options.size(quick=5, default=25)

    def raw() -> None:
        for _, body in payloads:
            json.loads(body)

    def parsed() -> None:
        for league, body in payloads:
            parse_scoreboard(decode_json(body), league)

    raw_seconds, parsed_seconds = [], []
    for _ in range(3):  # interleaved, best of each
        raw_seconds.append(_best_seconds(raw, rounds))
        parsed_seconds.append(_best_seconds(parsed, rounds))
    raw_rate = size / min(raw_seconds) / 1e6
    parse_rate = size / min(parsed_seconds) / 1e6
    details = {"games": games, "bytes": size, "boards": len(payloads),
               "games_per_s": games / min(parsed_seconds)}  # fmt: skip
    return [
        Result(NAME, f"{games} games, {len(payloads)} scoreboards, {size / 1e6:.2f} MB",
               parse_rate, "MB/s", "json.loads", raw_rate, ">= 0.3x",
               parse_rate >= 0.3 * raw_rate, details),
    ]  # fmt: skip
