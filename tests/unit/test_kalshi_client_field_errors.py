"""Kalshi parsers' field reader, failure by failure: each bad value yields a ParseError
naming the record, the exact field and the exact problem (the only clue an operator gets
when Kalshi changes a shape), and the boundaries of the accepted values. Written to kill the
mutants `make mutation MODULE=kalshi_models` found surviving (names in the commit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import _Fields, _places, object_field

pytestmark = pytest.mark.module("kalshi_client")

LONG = "x" * 50
Read = Callable[[_Fields], Any]


@pytest.mark.parametrize(
    ("data", "read", "field", "problem"),
    [
        ({"p": "1.5x"}, lambda f: f.price("p"), "p", "is not a fixed-point decimal string: '1.5x'"),
        (
            {"p": LONG},
            lambda f: f.price("p"),
            "p",
            f"is not a fixed-point decimal string: {LONG[:40]!r}",
        ),
        ({"p": True}, lambda f: f.price("p"), "p", "is not a decimal string"),
        ({"p": [1]}, lambda f: f.price("p"), "p", "is not a decimal string"),
        ({}, lambda f: f.price("p"), "p", "is missing"),
        ({"m": 10**40}, lambda f: f.money("m"), "m", "is out of range"),
        ({}, lambda f: f.money("m"), "m", "is missing"),
        ({"n": "1"}, lambda f: f.number_or_none("n"), "n", "is not a number"),
        ({"n": True}, lambda f: f.number_or_none("n"), "n", "is not a number"),
        ({"n": Decimal("Infinity")}, lambda f: f.number_or_none("n"), "n", "is out of range"),
        ({"n": Decimal("NaN")}, lambda f: f.number_or_none("n"), "n", "is out of range"),
        ({"c": "-1.00"}, lambda f: f.count("c"), "c", "is outside [0, None]: -1.00"),
        ({"c": "1.001"}, lambda f: f.count("c"), "c", "has more than 2 decimal places: 1.001"),
        ({"old": True}, lambda f: f.count("c", "old"), "old", "is not an integer count"),
        ({"old": "5"}, lambda f: f.count("c", "old"), "old", "is not an integer count"),
        ({}, lambda f: f.count("c", "old"), "c", "is missing"),
        (
            {"c": "x"},
            lambda f: f.count_or_none("c"),
            "c",
            "is not a fixed-point decimal string: 'x'",
        ),
        ({"r": "5"}, lambda f: f.cents_as_dollars("r"), "r", "is not an integer number of cents"),
        ({"i": True}, lambda f: f.integer_or_none("i"), "i", "is not an integer"),
        ({"i": 1.5}, lambda f: f.integer_or_none("i"), "i", "is not an integer"),
        ({"t": 5}, lambda f: f.time("t"), "t", "is not a date-time string"),
        ({"t": "soon"}, lambda f: f.time("t"), "t", "is not an RFC 3339 date-time: 'soon'"),
        (
            {"t": "2026-01-01T00:00:00"},
            lambda f: f.time("t"),
            "t",
            "has no UTC offset: '2026-01-01T00:00:00'",
        ),
        (
            {"t": "y" * 45},
            lambda f: f.time("t"),
            "t",
            f"is not an RFC 3339 date-time: {'y' * 40!r}",
        ),
        ({}, lambda f: f.time("t"), "t", "is missing"),
        ({"u": 10**20}, lambda f: f.unix_or_none("u"), "u", f"is not a valid Unix time: {10**20}"),
    ],
)
def test_each_bad_field_names_record_field_and_problem(
    data: dict[str, Any], read: Read, field: str, problem: str
) -> None:
    with pytest.raises(ParseError) as info:
        read(_Fields("Market", data))
    assert (info.value.record, info.value.field, info.value.problem) == ("Market", field, problem)
    assert str(info.value) == f"malformed Market from Kalshi: field {field!r} {problem}"


def test_accepted_values_at_the_boundaries() -> None:
    f = _Fields(
        "Market",
        {
            "p0": "0.0000",
            "p1": "1.0000",
            "int": 7,
            "dec": Decimal("2.5"),
            "old": 12,
            "t": "2026-01-01T01:00:00+01:00",
            "empty": "",
            "u": 0,
            "r": 250,
        },
    )
    assert f.price("p0") == Decimal(0)
    assert f.price("p1") == Decimal(1)
    assert f.money("int") == Decimal(7)  # a transitional integer is tolerated
    assert f.number_or_none("dec") == Decimal("2.5")
    assert f.count("missing", "old") == Decimal(12)
    assert f.time("t") == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert f.time("t").tzinfo is dt.UTC
    assert f.time_or_none("empty") is None
    assert f.unix_or_none("u") == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert f.cents_as_dollars("r") == Decimal("2.50")


def test_decimal_places_of_a_value() -> None:
    assert _places(Decimal("1.25")) == 2
    assert _places(Decimal("100")) == 0
    assert _places(Decimal("1E+2")) == 0  # a positive exponent has no decimal places
    assert _places(Decimal("Infinity")) == 0  # not an int exponent


def test_object_field_of_a_single_object_response() -> None:
    assert object_field({"market": {"ticker": "T"}}, "market", record="GetMarket") == {
        "ticker": "T"
    }
    with pytest.raises(ParseError) as info:
        object_field({"other": 1}, "market", record="GetMarket")
    assert str(info.value) == "malformed GetMarket response from Kalshi: field 'market' is missing"
    with pytest.raises(ParseError) as info:
        object_field([1], "market", record="GetMarket")
    assert info.value.field == "<record>"
    assert info.value.problem == "is not a JSON object"
