"""The machine's local time zone, moved for one test: proves code reads times as UTC instants
and never as local wall clocks. POSIX only (`time.tzset`); a test using it is defined under
`if CAN_SET_LOCAL_ZONE:` and has a portable counterpart for the same cell, never a skip."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

CAN_SET_LOCAL_ZONE = hasattr(time, "tzset")


@pytest.fixture
def local_zone_east_of_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time two hours east of UTC (POSIX TZ `EET-2`, no DST rule) for the test."""
    monkeypatch.setenv("TZ", "EET-2")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


__all__ = ["CAN_SET_LOCAL_ZONE", "local_zone_east_of_utc"]
