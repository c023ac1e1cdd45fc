"""Benchmark 4, Poll cycle: 10,000 markets over pagination, parsed and persisted.

Waits for the code it measures; until then it reports why it did not run.
"""

from __future__ import annotations

from benchmarks.suite import Options, Result, Unavailable

TITLE = "10,000 markets over pagination, parsed and persisted"
NAME = "poll_cycle"


def run(options: Options) -> list[Result]:
    raise Unavailable("the Kalshi poller (schedulers/kalshi_poller.py) is not in this checkout yet")
