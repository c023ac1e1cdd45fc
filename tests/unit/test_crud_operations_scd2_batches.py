"""crud_operations / scd2, pure logic: batch preparation, exact encoding, result arithmetic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from precog.database.crud_operations import GAME_STATES, MARKETS, SCD2_TABLES
from precog.database.errors import InvalidValueError, NotNullViolationError
from precog.database.scd2 import (
    Column,
    JsonText,
    Observation,
    Scd2Table,
    UpsertResult,
    encode_json,
    prepare,
)
from tests.plugins.local_zone import CAN_SET_LOCAL_ZONE

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def obs(key: str, value: int, at: int | datetime) -> Observation:
    when = at if isinstance(at, datetime) else T0 + timedelta(seconds=at)
    return Observation((key,), {name: None for name in TABLE.tracked_names} | {"v": value}, when)


TABLE = Scd2Table("t", "t_id", (Column("k", "text"),), (Column("v", "integer"),))


def test_prepare_keeps_the_last_observation_per_key_and_instant() -> None:
    batch = [obs("a", 3, 3), obs("b", 1, 1), obs("a", 1, 1), obs("a", 2, 2), obs("a", 9, 1)]
    prepared, duplicates = prepare(TABLE, batch)
    assert duplicates == 1  # ("a", t=1) given twice: the last one wins
    assert sorted((p.key[0], p.at, p.params) for p in prepared) == [
        ("a", T0 + timedelta(seconds=1), ("a", 9)),
        ("a", T0 + timedelta(seconds=2), ("a", 2)),
        ("a", T0 + timedelta(seconds=3), ("a", 3)),
        ("b", T0 + timedelta(seconds=1), ("b", 1)),
    ]


def test_defect2_prepare_compares_instants_not_wall_clocks() -> None:
    """Same tzinfo, different fold: Python's == says equal, the instants are an hour apart."""
    new_york = ZoneInfo("America/New_York")
    edt = datetime(2024, 11, 3, 1, 30, tzinfo=new_york)
    est = datetime(2024, 11, 3, 1, 30, tzinfo=new_york, fold=1)
    assert edt == est  # the trap: wall-clock comparison within one tzinfo
    prepared, duplicates = prepare(TABLE, [obs("a", 1, edt), obs("a", 2, est)])
    assert duplicates == 0
    assert [p.at for p in prepared] == [
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    ]
    assert all(p.at.tzinfo is UTC for p in prepared)


def test_validate_rejects_null_key_naive_time_and_wrong_columns() -> None:
    values = {name: None for name in MARKETS.tracked_names}
    with pytest.raises(NotNullViolationError) as caught:
        prepare(MARKETS, [Observation((None,), values, T0)])
    assert (caught.value.table, caught.value.column) == ("markets", "ticker")
    with pytest.raises(ValueError, match="timezone-aware"):
        prepare(MARKETS, [Observation(("A",), values, datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match="missing"):
        prepare(MARKETS, [Observation(("A",), {"status": "active"}, T0)])
    with pytest.raises(ValueError, match="parts"):
        prepare(GAME_STATES, [Observation(("nfl",), values, T0)])


@pytest.mark.parametrize("column", ["open_time", "close_time"])
def test_defect4_a_naive_datetime_in_a_tracked_column_is_refused_by_name(column: str) -> None:
    values = {name: None for name in MARKETS.tracked_names} | {column: datetime(2026, 1, 1)}
    with pytest.raises(InvalidValueError) as caught:
        prepare(MARKETS, [Observation(("A",), values, T0)])
    assert (caught.value.table, caught.value.column) == ("markets", column)
    assert "timezone-aware" in str(caught.value)


def test_defect4_json_keeps_numbers_as_numbers_and_times_as_utc_instants() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    value = {"b": [Decimal("1.0"), Decimal("1E+3"), 2, 0.5, None, True],
             "a": datetime(2026, 1, 1, 9, 0, tzinfo=tokyo), "c": "x\"y"}  # fmt: skip
    text = encode_json(value)
    assert text == '{"a":"2026-01-01T00:00:00+00:00","b":[1.0,1E+3,2,0.5,null,true],"c":"x\\"y"}'
    assert json.loads(text, parse_float=Decimal)["b"][0] == Decimal("1.0")
    assert encode_json(JsonText('{"kept": 1}')) == '{"kept": 1}'


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"at": datetime(2026, 1, 1)}, "naive datetime"),
        ({"x": Decimal("NaN")}, "not a JSON number"),
        ({"x": float("inf")}, "not a JSON number"),
        ({1: "a"}, "not a string"),
        ({"x": {1, 2}}, "cannot be stored as JSON"),
    ],
)
def test_defect4_unencodable_json_is_refused_naming_the_column(bad: object, message: str) -> None:
    values = {name: None for name in GAME_STATES.tracked_names} | {"situation": bad}
    with pytest.raises(InvalidValueError, match=message) as caught:
        prepare(GAME_STATES, [Observation(("nfl", "1"), values, T0)])
    assert (caught.value.table, caught.value.column) == ("game_states", "situation")


def test_upsert_results_add_up() -> None:
    total = UpsertResult(1, 2, 3, 4) + UpsertResult(10, 20, 30, 40)
    assert total == UpsertResult(created=11, updated=22, unchanged=33, stale=44)
    assert total.written == 33


def test_every_scd2_table_has_a_key_and_tracked_columns() -> None:
    assert {t.name for t in SCD2_TABLES} == {
        "markets", "account_balance", "positions", "game_states"
    }  # fmt: skip
    for table in SCD2_TABLES:
        assert table.business_key
        assert table.tracked
        assert table.keys_table == f"{table.name}_keys"
        assert not set(table.tracked_names) & {c.name for c in table.business_key}


class _NoOffset(tzinfo):
    """A tzinfo that knows no offset: as unusable as no zone at all."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_validation_messages_say_exactly_what_is_wrong() -> None:
    values = {name: None for name in MARKETS.tracked_names}
    with pytest.raises(NotNullViolationError) as null_key:
        prepare(MARKETS, [Observation((None,), values, T0)])
    assert null_key.value.detail == "a business-key column may not be null"
    with pytest.raises(ValueError, match="timezone-aware") as no_offset:
        prepare(MARKETS, [Observation(("A",), values, datetime(2026, 1, 1, tzinfo=_NoOffset()))])
    assert str(no_offset.value) == "markets: observed_at of ('A',) must be timezone-aware"
    with pytest.raises(ValueError, match="missing") as columns:
        prepare(MARKETS, [Observation(("A",), {"status": "active", "colour": "red"}, T0)])
    missing = sorted(set(MARKETS.tracked_names) - {"status"})
    assert str(columns.value) == f"markets: ('A',) missing {missing}, unknown ['colour']"


@pytest.mark.parametrize("value", ["text", 7, True, Decimal("1.5"), None])
def test_a_plain_value_in_a_json_column_is_sent_as_json(value: object) -> None:
    values = {name: None for name in GAME_STATES.tracked_names} | {"situation": value}
    (prepared,), _ = prepare(GAME_STATES, [Observation(("nfl", "1"), values, T0)])
    sent = dict(zip(("league", "espn_event_id", *GAME_STATES.tracked_names), prepared.params,
                    strict=True))  # fmt: skip
    assert sent["situation"] == (None if value is None else encode_json(value))
    assert sent["league"] == "nfl"


# time.tzset exists on POSIX only; on Windows test_defect4_json_keeps_numbers_as_numbers_and_
# times_as_utc_instants fills the same cell (a counterpart, never a skip).
if CAN_SET_LOCAL_ZONE:

    @pytest.mark.usefixtures("local_zone_east_of_utc")
    def test_times_are_written_in_utc_whatever_the_machines_zone() -> None:
        assert datetime(2026, 1, 1, 12, 0).astimezone().utcoffset() == timedelta(hours=2)
        tokyo = datetime(2026, 1, 1, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
        assert encode_json({"at": tokyo}) == '{"at":"2026-01-01T12:00:00+00:00"}'
