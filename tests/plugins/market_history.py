"""Helpers for tests that check stored market histories (not a fixture plugin).

`history_problems(url)` counts SCD2 rows whose period does not end exactly where the next
version of the market begins, or whose current flag disagrees with being the last version;
`repeated_versions(url)` counts versions equal to the one before (a version written without
a change); `current_markets(url)` maps ticker -> (yes_bid, yes_ask, volume) of the current
rows; `NOT_OURS` are the tracemalloc filters that leave out the in-process sandbox and the
test's own bookkeeping when a stress test measures what the code under test keeps.
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import psycopg

_BROKEN = (
    "SELECT count(*) FROM (SELECT row_end_ts, row_current_ind, lead(row_start_ts) OVER "
    "(PARTITION BY market_id ORDER BY row_start_ts) AS nxt FROM markets) v "
    "WHERE (nxt IS NULL) <> row_current_ind OR (nxt IS NOT NULL AND nxt <> row_end_ts)"
)
_TRACKED = "(yes_bid, yes_ask, no_bid, no_ask, last_price, volume, open_interest, status)"
_REPEATED = (
    f"SELECT count(*) FROM (SELECT {_TRACKED} AS s, lag({_TRACKED}) OVER "
    "(PARTITION BY market_id ORDER BY row_start_ts) AS p FROM markets) v "
    "WHERE s IS NOT DISTINCT FROM p"
)

NOT_OURS = (
    tracemalloc.Filter(False, "*/precog/sandbox/*"),
    tracemalloc.Filter(False, "*/tests/*"),
    tracemalloc.Filter(False, "*/uuid.py"),
    tracemalloc.Filter(False, tracemalloc.__file__),
)


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()  # constant text of this module
    assert row is not None
    return int(row[0])


def history_problems(url: str) -> int:
    return _count(url, _BROKEN)


def repeated_versions(url: str) -> int:
    return _count(url, _REPEATED)


def stored_versions(url: str) -> int:
    return _count(url, "SELECT count(*) FROM markets")


def current_markets(url: str) -> dict[str, tuple[Decimal | None, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ticker, yes_bid, yes_ask, volume FROM markets WHERE row_current_ind"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


__all__ = [
    "NOT_OURS",
    "current_markets",
    "history_problems",
    "repeated_versions",
    "stored_versions",
]
