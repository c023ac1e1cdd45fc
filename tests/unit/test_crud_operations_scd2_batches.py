"""crud_operations / scd2, pure logic: batch splitting, validation, result arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from precog.database.crud_operations import GAME_STATES, MARKETS, SCD2_TABLES
from precog.database.errors import NotNullViolationError
from precog.database.scd2 import Observation, UpsertResult, _rounds, _validate

pytestmark = pytest.mark.module("crud_operations")

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def obs(key: str, value: int, at: int) -> Observation:
    return Observation((key,), {"v": value}, T0 + timedelta(seconds=at))


def test_rounds_order_each_key_by_time_and_drop_exact_duplicates() -> None:
    batch = [obs("a", 3, 3), obs("b", 1, 1), obs("a", 1, 1), obs("a", 2, 2), obs("a", 9, 1)]
    rounds, duplicates = _rounds(batch)
    assert duplicates == 1  # ("a", t=1) given twice: the last one wins
    assert [[(o.key[0], o.values["v"]) for o in r] for r in rounds] == [
        [("a", 9), ("b", 1)],
        [("a", 2)],
        [("a", 3)],
    ]


def test_rounds_of_distinct_keys_is_one_round() -> None:
    rounds, duplicates = _rounds([obs(str(i), i, 0) for i in range(50)])
    assert len(rounds) == 1
    assert len(rounds[0]) == 50
    assert duplicates == 0


def test_validate_rejects_null_key_naive_time_and_wrong_columns() -> None:
    values = {name: None for name in MARKETS.tracked_names}
    with pytest.raises(NotNullViolationError) as caught:
        _validate(MARKETS, [Observation((None,), values, T0)])
    assert (caught.value.table, caught.value.column) == ("markets", "ticker")
    with pytest.raises(ValueError, match="timezone-aware"):
        _validate(MARKETS, [Observation(("A",), values, datetime(2026, 1, 1))])
    with pytest.raises(ValueError, match="missing"):
        _validate(MARKETS, [Observation(("A",), {"status": "active"}, T0)])
    with pytest.raises(ValueError, match="parts"):
        _validate(GAME_STATES, [Observation(("nfl",), values, T0)])


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
