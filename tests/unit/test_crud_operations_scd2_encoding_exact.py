"""crud_operations / scd2 encoding at its edges: a time zone that gives no offset is as naive
as none, huge finite decimals stay exact, dates are ISO strings, and an unsupported type is
named in the error. Written to kill the mutants `make mutation MODULE=scd2` found surviving
(names in the commit that added this file)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal

import pytest

from precog.database.scd2 import UnencodableValueError, encode_json

pytestmark = pytest.mark.module("crud_operations")


class NoOffset(tzinfo):
    """A time zone that does not know its offset (utcoffset() is None)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_a_zone_without_an_offset_is_refused_like_a_naive_time() -> None:
    with pytest.raises(UnencodableValueError) as info:
        encode_json(datetime(2026, 1, 1, 12, 0, tzinfo=NoOffset()))
    assert "no time zone" in str(info.value)


def test_aware_times_are_stored_in_utc() -> None:
    assert encode_json(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == '"2026-01-01T12:00:00+00:00"'


def test_huge_finite_decimals_stay_exact() -> None:
    # Larger than any float: a float-based finiteness check would call it infinite.
    assert encode_json(Decimal("1E+400")) == "1E+400"
    assert encode_json(Decimal("-0.000001")) == "-0.000001"


def test_dates_are_iso_strings() -> None:
    assert encode_json(date(2026, 1, 2)) == '"2026-01-02"'


def test_an_unsupported_type_is_named() -> None:
    with pytest.raises(UnencodableValueError) as info:
        encode_json(b"raw")
    assert str(info.value) == "a bytes cannot be stored as JSON"
