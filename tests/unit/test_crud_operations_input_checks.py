"""Values refused before they reach PostgreSQL: money that would be rounded, NUL, lone
surrogates and keys too long to index, each named by table and field (bad input, exit 2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from precog.database.crud_operations import MONEY
from precog.database.errors import InvalidValueError
from precog.database.input_checks import (
    MAX_KEY_BYTES,
    check_json,
    check_key,
    check_numeric,
    check_text,
)

pytestmark = pytest.mark.module("crud_operations")


@pytest.mark.parametrize(
    "value",
    ["0.010000", "0.012345", "12345678901234.123456", "-0.000001", "100.5000", "0"],
)
def test_money_that_the_venue_sends_fits_exactly(value: str) -> None:
    check_numeric("fills", "fee_cost", MONEY, Decimal(value))  # no error


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0.0123456", "more than 6 decimal places and would be rounded"),
        ("1E-7", "more than 6 decimal places"),
        ("123456789012345", "more than 14 integer digits"),
        ("1E+40", "more than 14 integer digits"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
    ],
)
def test_money_that_would_be_rounded_or_overflow_is_refused(value: str, problem: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        check_numeric("fills", "fee_cost", MONEY, Decimal(value))
    error = caught.value
    assert (error.table, error.column, error.exit_code) == ("fills", "fee_cost", 2)
    assert problem in str(error)
    assert "fills.fee_cost" in str(error)


def test_prices_keep_four_decimals() -> None:
    check_numeric("markets", "yes_bid", "numeric(10,4)", Decimal("0.5600"))
    with pytest.raises(InvalidValueError, match="more than 4 decimal places"):
        check_numeric("markets", "yes_bid", "numeric(10,4)", Decimal("0.56005"))


def test_nul_and_lone_surrogates_are_named() -> None:
    with pytest.raises(InvalidValueError, match=r"markets\.title: contains a NUL") as nul:
        check_text("markets", "title", "a\x00b")
    assert nul.value.exit_code == 2
    with pytest.raises(InvalidValueError, match="lone surrogate"):
        check_text("markets", "title", "caf\udce9")
    with pytest.raises(InvalidValueError, match=r"game_states\.situation: contains a NUL"):
        check_json("game_states", "situation", {"plays": [{"text": "x\x00"}]})
    with pytest.raises(InvalidValueError, match="lone surrogate"):
        check_json("game_states", "situation", {"\ud800": 1})
    check_json("game_states", "situation", {"down": 3, "text": "3rd & 7", "ok": [True, None]})


def test_keys_longer_than_an_index_entry_are_refused() -> None:
    check_key("markets", "ticker", "K" * MAX_KEY_BYTES)
    with pytest.raises(InvalidValueError, match=r"markets\.ticker: key of 6000 bytes"):
        check_key("markets", "ticker", "K" * 6000)
    with pytest.raises(InvalidValueError, match="bytes"):  # counted in UTF-8 bytes
        check_key("markets", "ticker", "\u00e9" * (MAX_KEY_BYTES // 2 + 1))
    check_key("account_balance", "platform_id", 7)  # non-text key parts pass
