"""Checks of recorded game-state history shared by the ESPN stress, race and chaos tests.

`check_game_history(url)` reads every game's versions straight from PostgreSQL and returns
the problems found (empty when the history is sound): one current version per game,
versions contiguous (each ends exactly when the next starts), no two consecutive versions
with the same tracked state, and scores and periods never going backwards.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import psycopg

TRACKED = (
    "home_team_id, away_team_id, venue_id, start_time, season_type, status, period, "
    "clock_seconds, display_clock, home_score, away_score, situation"
)


def game_versions(url: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            f"SELECT league, espn_event_id, {TRACKED}, row_start_ts, row_end_ts, "
            "row_current_ind FROM game_states ORDER BY league, espn_event_id, row_start_ts"
        )
        games: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in cur.fetchall():
            games.setdefault((row["league"], row["espn_event_id"]), []).append(row)
    return games


def _state(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.strip()] for c in TRACKED.split(","))


def check_game_history(url: str, *, monotonic: bool = True) -> list[str]:
    """Problems of the recorded history; `monotonic=False` skips the scores/periods check
    (for histories written from arbitrary, not simulated, games)."""
    problems: list[str] = []
    for key, versions in game_versions(url).items():
        current = [v for v in versions if v["row_current_ind"]]
        if len(current) != 1 or not versions[-1]["row_current_ind"]:
            problems.append(f"{key}: {len(current)} current versions")
        for a, b in pairwise(versions):
            if a["row_end_ts"] != b["row_start_ts"]:
                problems.append(f"{key}: gap or overlap at {b['row_start_ts']}")
            if _state(a) == _state(b):
                problems.append(f"{key}: a version repeats the previous state")
            for column in ("home_score", "away_score", "period") if monotonic else ():
                if a[column] is not None and b[column] is not None and b[column] < a[column]:
                    problems.append(f"{key}: {column} went back at {b['row_start_ts']}")
    return problems


__all__ = ["check_game_history", "game_versions"]
