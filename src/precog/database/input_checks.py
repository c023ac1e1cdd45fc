"""Refuse values PostgreSQL cannot store exactly, before they reach the database.

Owns the checks the write paths of `crud_operations` run on every row they send:
- a `numeric(p,s)` value must fit exactly: PostgreSQL would round extra decimals silently
  (money drifting by sub-cent fees) and reject too many integer digits with a bare
  "numeric field overflow";
- text may not contain NUL (PostgreSQL text cannot hold it; psycopg refuses it with a raw
  DataError) or lone surrogates (not encodable as UTF-8: a raw UnicodeEncodeError);
- JSON may not contain NUL in any string either (jsonb refuses \\u0000 with 22P05);
- a business key must be short enough for its unique index (a btree entry holds at most
  ~2.7 kB; a longer key fails with SQLSTATE 54000 deep inside the write).
Each failure is an `InvalidValueError` (bad input, exit 2) naming the table and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from precog.database.errors import InvalidValueError
from precog.database.scd2 import Column, Observation, Scd2Table

# A composite key of a few parts must stay well under the btree limit (2704 bytes).
MAX_KEY_BYTES = 1000
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse(table: str, field: str, detail: str) -> InvalidValueError:
    return InvalidValueError(table=table, column=field, constraint=None, detail=detail)


@cache
def _precision(sql_type: str) -> tuple[int, int] | None:
    match = _NUMERIC.fullmatch(sql_type.replace(" ", "").lower())
    return (int(match[1]), int(match[2])) if match else None


@cache
def _bounds(sql_type: str) -> tuple[int, int, Decimal, Decimal] | None:
    """(digits, scale, the first value too large, one unit of the last decimal place)."""
    precision = _precision(sql_type)
    if precision is None:
        return None
    digits, scale = precision
    return digits, scale, Decimal(10) ** (digits - scale), Decimal(1).scaleb(-scale)


def check_numeric(table: str, field: str, sql_type: str, value: Decimal) -> None:
    """`value` must be stored by `numeric(p,s)` exactly: no rounding, no overflow."""
    bounds = _bounds(sql_type)
    if bounds is None:
        return
    digits, scale, limit, unit = bounds
    if not value.is_finite():
        raise _refuse(table, field, f"{value} is not a finite number")
    if abs(value) >= limit:
        raise _refuse(
            table,
            field,
            f"{value} has more than {digits - scale} integer digits and does not fit {sql_type}",
        )
    try:
        exact = value.quantize(unit) == value
    except InvalidOperation:  # more significant digits than the decimal context holds
        exact = False
    if not exact:
        raise _refuse(
            table,
            field,
            f"{value} has more than {scale} decimal places and would be rounded by "
            f"{sql_type}; send at most {scale} decimals",
        )


def check_text(table: str, field: str, value: str) -> None:
    """Text PostgreSQL can store: no NUL character, no lone surrogate."""
    if "\x00" in value:
        raise _refuse(table, field, f"contains a NUL character at position {value.index(chr(0))}")
    surrogate = None if value.isascii() else _SURROGATE.search(value)  # ASCII has none
    if surrogate is not None:
        raise _refuse(
            table,
            field,
            f"contains a lone surrogate {surrogate[0]!r} at position {surrogate.start()} "
            "(not valid UTF-8); fix the encoding of the input",
        )


def check_json(table: str, field: str, value: Any) -> None:
    """Every key and string inside a JSON value passes `check_text`."""
    if isinstance(value, str):
        check_text(table, field, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(table, field, str(key))
            check_json(table, field, item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(table, field, item)


def check_key(table: str, field: str, value: Any) -> None:
    """A business-key part: valid text, short enough for its unique index."""
    if not isinstance(value, str):
        return
    check_text(table, field, value)
    size = len(value.encode())
    if size > MAX_KEY_BYTES:
        raise _refuse(
            table,
            field,
            f"key of {size} bytes is longer than the {MAX_KEY_BYTES} bytes a key may have",
        )


def check_value(table: str, column: Column, value: Any) -> None:
    """One value bound for `column`, whatever its type."""
    if value is None:
        return
    if column.is_json:
        check_json(table, column.name, value)
    elif isinstance(value, str):
        check_text(table, column.name, value)
    elif isinstance(value, Decimal):
        check_numeric(table, column.name, column.sql_type, value)


def check_rows(
    table: str, columns: Sequence[Column], rows: Iterable[Any], *, keys: Sequence[str] = ()
) -> None:
    """Every row (an object with one attribute per column) for an INSERT into `table`;
    the `keys` columns are also checked as indexed keys."""
    for row in rows:
        for column in columns:
            value = getattr(row, column.name)
            if column.name in keys:
                check_key(table, column.name, value)
            check_value(table, column, value)


@cache
def _tracked(table: Scd2Table) -> tuple[tuple[str, Column, bool], ...]:
    return tuple((c.name, c, c.is_json) for c in table.tracked)


def check_observations(table: Scd2Table, observations: Iterable[Observation]) -> None:
    """Keys and tracked values of a batch for the SCD2 writer (`check_value` per value,
    with the per-column work done once per table: this runs for every snapshot)."""
    name = table.name
    tracked = _tracked(table)
    for obs in observations:
        for column, part in zip(table.business_key, obs.key, strict=False):
            check_key(name, column.name, part)
        values = obs.values
        for field, column, is_json in tracked:
            value = values.get(field)
            if value is None:
                continue
            if is_json:
                check_json(name, field, value)
            elif isinstance(value, str):
                check_text(name, field, value)
            elif isinstance(value, Decimal):
                check_numeric(name, field, column.sql_type, value)


__all__ = [
    "MAX_KEY_BYTES",
    "check_json",
    "check_key",
    "check_numeric",
    "check_observations",
    "check_rows",
    "check_text",
    "check_value",
]
