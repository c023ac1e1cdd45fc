"""Benchmark 5, ESPN parse: a college Saturday of scoreboards vs raw JSON decode.

Waits for the code it measures; until then it reports why it did not run.
"""

from __future__ import annotations

from benchmarks.suite import Options, Result, Unavailable

TITLE = "a college Saturday of scoreboards vs raw JSON decode"
NAME = "espn_parse"


def run(options: Options) -> list[Result]:
    raise Unavailable("the ESPN client (api_connectors/espn_client.py) is not in this checkout yet")
