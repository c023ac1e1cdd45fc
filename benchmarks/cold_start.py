"""Benchmark 7, Cold start: `precog run` from a stopped server to the first stored version.

Waits for the code it measures; until then it reports why it did not run.
"""

from __future__ import annotations

from benchmarks.suite import Options, Result, Unavailable

TITLE = "`precog run` from a stopped server to the first stored version"
NAME = "cold_start"


def run(options: Options) -> list[Result]:
    raise Unavailable("`precog run` is not in this checkout yet")
