"""Kalshi REST parsers, whole records: orders, fills, settlements, trades, balances, order
books, list pages and cursors, each parsed from a payload shaped like the reference
(../shared/reference/kalshi_espn_api.md A4) in its current fixed-point form and its legacy
cents form and compared field by field with the record expected; then one field changed at a
time (each fallback, current field beating legacy, missing/empty/null optional fields), and
every malformed value with its exact one-line message. Written for the mutants `make mutation
MODULE=kalshi_models` found surviving (names in the commit that added this file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import (
    Balance,
    Fill,
    Order,
    Orderbook,
    OrderbookLevel,
    Settlement,
    Trade,
    _Fields,
    page_cursor,
    parse_balance,
    parse_fill,
    parse_list,
    parse_market,
    parse_order,
    parse_orderbook,
    parse_page,
    parse_positions_page,
    parse_settlement,
    parse_trade,
)

pytestmark = pytest.mark.module("kalshi_client")

TICKER = "KXEXAMPLE-26OCT05-T50"
EVENT = "KXEXAMPLE-26OCT05"
CREATED = dt.datetime(2026, 10, 2, 15, 4, 5, tzinfo=dt.UTC)
CREATED_UNIX = 1790953445  # CREATED in Unix seconds (the legacy `ts`)
UPDATED = dt.datetime(2026, 10, 2, 15, 5, tzinfo=dt.UTC)
EXPIRES = dt.datetime(2026, 10, 5, 20, tzinfo=dt.UTC)
SETTLED = dt.datetime(2026, 10, 6, tzinfo=dt.UTC)
LONG_NAIVE = "2026-01-01T00:00:00." + "0" * 30  # a valid date-time without offset, 50 chars


def _message(parse: Callable[[Any], object], data: object) -> str:
    """The one-line message of the ParseError `parse(data)` raises."""
    with pytest.raises(ParseError) as info:
        parse(data)
    return str(info.value)


def _without(data: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in names}


# ------------------------------------------------------------------------------ orders
# A4.13: a NO contract sold (exposure gained: YES), partly filled.
ORDER: dict[str, Any] = {
    "order_id": "ord-1",
    "user_id": "user-1",
    "client_order_id": "cli-1",
    "ticker": TICKER,
    "side": "no",
    "action": "sell",
    "outcome_side": "yes",
    "book_side": "bid",
    "type": "limit",
    "status": "resting",
    "yes_price_dollars": "0.4200",
    "no_price_dollars": "0.5800",
    "fill_count_fp": "3.00",
    "remaining_count_fp": "7.00",
    "initial_count_fp": "10.00",
    "taker_fill_cost_dollars": "1.2600",
    "maker_fill_cost_dollars": "0.0000",
    "taker_fees_dollars": "0.050000",
    "maker_fees_dollars": "0.010000",
    "expiration_time": "2026-10-05T20:00:00Z",
    "created_time": "2026-10-02T15:04:05Z",
    "last_update_time": "2026-10-02T15:05:00Z",
    "self_trade_prevention_type": None,
    "exchange_index": 0,
}
# The same order before the fixed-point migration (KOA37): integer cents and contracts.
LEGACY_ORDER: dict[str, Any] = {
    "order_id": "ord-1",
    "client_order_id": "cli-1",
    "ticker": TICKER,
    "side": "no",
    "action": "sell",
    "type": "limit",
    "status": "resting",
    "yes_price": 42,
    "no_price": 58,
    "fill_count": 3,
    "remaining_count": 7,
    "initial_count": 10,
    "taker_fees": 5,
    "maker_fees": 1,
    "created_time": "2026-10-02T15:04:05Z",
}


def test_order_current_every_field() -> None:
    assert parse_order(ORDER) == Order(
        order_id="ord-1",
        client_order_id="cli-1",
        ticker=TICKER,
        status="resting",
        type="limit",
        side="no",
        action="sell",
        outcome_side="yes",
        book_side="bid",
        yes_price=Decimal("0.42"),
        no_price=Decimal("0.58"),
        fill_count=Decimal(3),
        remaining_count=Decimal(7),
        initial_count=Decimal(10),
        taker_fees=Decimal("0.05"),
        maker_fees=Decimal("0.01"),
        created_time=CREATED,
        last_update_time=UPDATED,
        expiration_time=EXPIRES,
    )
    assert str(parse_order(ORDER).taker_fees) == "0.050000"  # exact: the venue's string


def test_order_legacy_cents_every_field() -> None:
    assert parse_order(LEGACY_ORDER) == Order(
        order_id="ord-1",
        client_order_id="cli-1",
        ticker=TICKER,
        status="resting",
        type="limit",
        side="no",
        action="sell",
        outcome_side=None,
        book_side=None,
        yes_price=Decimal("0.42"),
        no_price=Decimal("0.58"),
        fill_count=Decimal(3),
        remaining_count=Decimal(7),
        initial_count=Decimal(10),
        taker_fees=Decimal("0.05"),
        maker_fees=Decimal("0.01"),
        created_time=CREATED,
        last_update_time=None,
        expiration_time=None,
    )


def test_order_transitional_shape_reads_the_current_fields() -> None:
    # KOA37 sent both eras side by side; every current field wins over its legacy twin.
    both = {
        **LEGACY_ORDER,
        "yes_price_dollars": "0.4150",
        "no_price_dollars": "0.5850",
        "fill_count_fp": "2.50",
        "remaining_count_fp": "7.50",
        "initial_count_fp": "10.00",
        "taker_fees_dollars": "0.040000",
        "maker_fees_dollars": "0.020000",
    }
    order = parse_order(both)
    assert (order.yes_price, order.no_price) == (Decimal("0.415"), Decimal("0.585"))
    assert (order.fill_count, order.remaining_count, order.initial_count) == (
        Decimal("2.5"),
        Decimal("7.5"),
        Decimal(10),
    )
    assert (order.taker_fees, order.maker_fees) == (Decimal("0.04"), Decimal("0.02"))


def test_order_without_optional_fields() -> None:
    minimal = {
        "order_id": "ord-1",
        "ticker": TICKER,
        "status": "canceled",
        "yes_price_dollars": "0.4200",
        "no_price_dollars": "0.5800",
        "fill_count_fp": "0.00",
        "remaining_count_fp": "0.00",
    }
    assert parse_order(minimal) == Order(
        order_id="ord-1",
        client_order_id=None,
        ticker=TICKER,
        status="canceled",
        type=None,
        side=None,
        action=None,
        outcome_side=None,
        book_side=None,
        yes_price=Decimal("0.42"),
        no_price=Decimal("0.58"),
        fill_count=Decimal(0),
        remaining_count=Decimal(0),
        initial_count=None,
        taker_fees=None,
        maker_fees=None,
        created_time=None,
        last_update_time=None,
        expiration_time=None,
    )


@pytest.mark.parametrize(
    "missing",
    [
        "order_id",
        "ticker",
        "status",
        "yes_price_dollars",
        "no_price_dollars",
        "fill_count_fp",
        "remaining_count_fp",
    ],
)
def test_order_names_a_missing_required_field(missing: str) -> None:
    assert _message(parse_order, _without(ORDER, missing)) == (
        f"malformed Order from Kalshi: field {missing!r} is missing"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_order_id": 7}, "field 'client_order_id' is not a string"),
        ({"type": ["limit"]}, "field 'type' is not a string"),
        ({"status": 1}, "field 'status' is not a string"),
        ({"yes_price_dollars": "1.0100"}, "field 'yes_price_dollars' is outside [0, 1]: 1.0100"),
        ({"initial_count_fp": "-1.00"}, "field 'initial_count_fp' is outside [0, None]: -1.00"),
        (
            {"maker_fees_dollars": "0.0100001"},
            "field 'maker_fees_dollars' has more than 6 decimal places: 0.0100001",
        ),
        (
            {"expiration_time": "2026-10-05T20:00:00"},
            "field 'expiration_time' has no UTC offset: '2026-10-05T20:00:00'",
        ),
    ],
)
def test_order_malformed_field_message(change: dict[str, Any], message: str) -> None:
    assert _message(parse_order, {**ORDER, **change}) == f"malformed Order from Kalshi: {message}"


def test_order_legacy_malformed_field_message() -> None:
    assert _message(parse_order, {**LEGACY_ORDER, "yes_price": 142}) == (
        "malformed Order from Kalshi: field 'yes_price' is outside [0, 1]: 1.42"
    )
    assert _message(parse_order, {**LEGACY_ORDER, "fill_count": "3"}) == (
        "malformed Order from Kalshi: field 'fill_count' is not an integer count"
    )
    assert _message(parse_order, {**LEGACY_ORDER, "taker_fees": "5"}) == (
        "malformed Order from Kalshi: field 'taker_fees' is not an integer number of cents"
    )


# ------------------------------------------------------------------------------- fills
# A4.11: the current fill of the order above.
FILL: dict[str, Any] = {
    "fill_id": "fill-1",
    "trade_id": "fill-1",
    "order_id": "ord-1",
    "ticker": TICKER,
    "market_ticker": TICKER,
    "exchange_index": 0,
    "side": "no",
    "action": "sell",
    "outcome_side": "yes",
    "book_side": "bid",
    "count_fp": "2.50",
    "yes_price_dollars": "0.4200",
    "no_price_dollars": "0.5800",
    "is_taker": True,
    "created_time": "2026-10-02T15:04:05Z",
    "fee_cost": "0.010000",
    "subaccount_number": None,
    "ts": CREATED_UNIX,
}
LEGACY_FILL: dict[str, Any] = {
    "trade_id": "fill-1",
    "order_id": "ord-1",
    "ticker": TICKER,
    "side": "no",
    "action": "sell",
    "count": 2,
    "yes_price": 42,
    "no_price": 58,
    "is_taker": False,
    "ts": CREATED_UNIX,
}


def test_fill_current_every_field() -> None:
    assert parse_fill(FILL) == Fill(
        fill_id="fill-1",
        order_id="ord-1",
        ticker=TICKER,
        side="no",
        action="sell",
        outcome_side="yes",
        book_side="bid",
        count=Decimal("2.5"),
        yes_price=Decimal("0.42"),
        no_price=Decimal("0.58"),
        is_taker=True,
        fee_cost=Decimal("0.01"),
        created_time=CREATED,
    )


def test_fill_legacy_every_field() -> None:
    assert parse_fill(LEGACY_FILL) == Fill(
        fill_id="fill-1",
        order_id="ord-1",
        ticker=TICKER,
        side="no",
        action="sell",
        outcome_side="yes",  # selling NO gains YES exposure
        book_side=None,
        count=Decimal(2),
        yes_price=Decimal("0.42"),
        no_price=Decimal("0.58"),
        is_taker=False,
        fee_cost=None,
        created_time=CREATED,
    )


def test_fill_fallbacks_one_field_at_a_time() -> None:
    assert parse_fill({**FILL, "fill_id": "fill-new", "trade_id": "fill-old"}).fill_id == "fill-new"
    assert parse_fill(_without(FILL, "fill_id")).fill_id == "fill-1"
    assert parse_fill({**FILL, "fill_id": "", "trade_id": "t-9"}).fill_id == "t-9"
    assert parse_fill({**FILL, "ticker": "KXA-1", "market_ticker": "KXB-1"}).ticker == "KXA-1"
    assert parse_fill({**_without(FILL, "ticker"), "market_ticker": "KXB-1"}).ticker == "KXB-1"
    # created_time wins over the legacy `ts`; an empty or absent one falls back to it.
    later = CREATED_UNIX + 60
    assert parse_fill({**FILL, "ts": later}).created_time == CREATED
    assert parse_fill({**FILL, "created_time": "", "ts": later}).created_time == (
        CREATED + dt.timedelta(seconds=60)
    )
    assert parse_fill({**_without(FILL, "created_time"), "ts": later}).created_time == (
        CREATED + dt.timedelta(seconds=60)
    )
    assert parse_fill(_without(FILL, "ts")).created_time == CREATED


def test_fill_optional_fields_absent_or_null() -> None:
    bare = _without(FILL, "side", "action", "outcome_side", "book_side", "is_taker", "fee_cost")
    fill = parse_fill(bare)
    assert (fill.side, fill.action, fill.outcome_side, fill.book_side) == (None, None, None, None)
    assert (fill.is_taker, fill.fee_cost) == (None, None)
    assert parse_fill({**FILL, "is_taker": None, "fee_cost": None}) == parse_fill(
        _without(FILL, "is_taker", "fee_cost")
    )
    assert parse_fill({**FILL, "is_taker": False}).is_taker is False


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({"side": "yes"}, None),  # a side without an action says nothing
        ({"side": "no"}, None),
        ({"action": "buy"}, None),
        ({"side": "maybe", "action": "buy"}, None),
        ({"side": "yes", "action": "hold"}, None),
        ({"book_side": "mid", "side": "yes", "action": "buy"}, "yes"),
        ({"side": "yes", "action": "buy"}, "yes"),
    ],
)
def test_fill_outcome_side_needs_both_side_and_action(
    fields: dict[str, str], outcome: str | None
) -> None:
    bare = _without(FILL, "side", "action", "outcome_side", "book_side")
    assert parse_fill({**bare, **fields}).outcome_side == outcome


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _without(FILL, "created_time", "ts"),
            "field 'created_time' is missing (and no legacy `ts`)",
        ),
        (
            {**FILL, "created_time": None, "ts": None},
            "field 'created_time' is missing (and no legacy `ts`)",
        ),
        (_without(FILL, "fill_id", "trade_id"), "field 'trade_id' is missing"),
        (_without(FILL, "ticker", "market_ticker"), "field 'market_ticker' is missing"),
        (_without(FILL, "order_id"), "field 'order_id' is missing"),
        (_without(FILL, "count_fp"), "field 'count_fp' is missing"),
        (_without(FILL, "yes_price_dollars"), "field 'yes_price_dollars' is missing"),
        (_without(FILL, "no_price_dollars"), "field 'no_price_dollars' is missing"),
        ({**FILL, "is_taker": "yes"}, "field 'is_taker' is not a boolean"),
        ({**FILL, "side": 1}, "field 'side' is not a string"),
        ({**FILL, "action": 1}, "field 'action' is not a string"),
        ({**FILL, "book_side": 1}, "field 'book_side' is not a string"),
        ({**FILL, "fee_cost": 0.01}, "field 'fee_cost' is not a decimal string"),
        (
            {**FILL, "fee_cost": "0.0100001"},
            "field 'fee_cost' has more than 6 decimal places: 0.0100001",
        ),
        ({**FILL, "ts": "1790953445", "created_time": None}, "field 'ts' is not an integer"),
    ],
)
def test_fill_malformed_field_message(data: dict[str, Any], message: str) -> None:
    assert _message(parse_fill, data) == f"malformed Fill from Kalshi: {message}"


# ------------------------------------------------------------------------- settlements
# A4.12: `revenue` and `value` are integer cents in both eras.
SETTLEMENT: dict[str, Any] = {
    "ticker": TICKER,
    "exchange_index": 0,
    "event_ticker": EVENT,
    "market_result": "yes",
    "yes_count_fp": "10.00",
    "yes_total_cost_dollars": "4.3000",
    "no_count_fp": "2.00",
    "no_total_cost_dollars": "1.1600",
    "revenue": 1000,
    "settled_time": "2026-10-06T00:00:00Z",
    "fee_cost": "0.070000",
    "value": 100,
}
LEGACY_SETTLEMENT: dict[str, Any] = {
    "ticker": TICKER,
    "market_result": "no",
    "yes_count": 10,
    "no_count": 2,
    "yes_total_cost": 430,
    "no_total_cost": 116,
    "revenue": 200,
    "settled_time": "2026-10-06T00:00:00Z",
}


def test_settlement_current_every_field() -> None:
    assert parse_settlement(SETTLEMENT) == Settlement(
        ticker=TICKER,
        event_ticker=EVENT,
        market_result="yes",
        yes_count=Decimal(10),
        no_count=Decimal(2),
        yes_total_cost=Decimal("4.30"),
        no_total_cost=Decimal("1.16"),
        revenue=Decimal("10.00"),
        fee_cost=Decimal("0.07"),
        value=Decimal("1.00"),
        settled_time=SETTLED,
    )


def test_settlement_legacy_every_field() -> None:
    assert parse_settlement(LEGACY_SETTLEMENT) == Settlement(
        ticker=TICKER,
        event_ticker=None,
        market_result="no",
        yes_count=Decimal(10),
        no_count=Decimal(2),
        yes_total_cost=Decimal("4.30"),
        no_total_cost=Decimal("1.16"),
        revenue=Decimal("2.00"),
        fee_cost=None,
        value=None,
        settled_time=SETTLED,
    )


def test_settlement_current_fields_win_and_nulls_are_absent() -> None:
    both = {**SETTLEMENT, "yes_count": 1, "no_count": 1, "yes_total_cost": 1, "no_total_cost": 1}
    assert parse_settlement(both) == parse_settlement(SETTLEMENT)
    nulls = parse_settlement({**SETTLEMENT, "event_ticker": None, "value": None, "fee_cost": None})
    assert (nulls.event_ticker, nulls.value, nulls.fee_cost) == (None, None, None)
    assert parse_settlement({**SETTLEMENT, "revenue": 0}).revenue == Decimal(0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without(SETTLEMENT, "revenue"), "field 'revenue' is missing"),
        ({**SETTLEMENT, "revenue": None}, "field 'revenue' is missing"),
        ({**SETTLEMENT, "revenue": "10.00"}, "field 'revenue' is not an integer number of cents"),
        ({**SETTLEMENT, "value": "1.00"}, "field 'value' is not an integer number of cents"),
        (_without(SETTLEMENT, "ticker"), "field 'ticker' is missing"),
        (_without(SETTLEMENT, "market_result"), "field 'market_result' is missing"),
        (_without(SETTLEMENT, "yes_count_fp"), "field 'yes_count_fp' is missing"),
        (_without(SETTLEMENT, "no_count_fp"), "field 'no_count_fp' is missing"),
        (
            _without(SETTLEMENT, "yes_total_cost_dollars"),
            "field 'yes_total_cost_dollars' is missing",
        ),
        (_without(SETTLEMENT, "no_total_cost_dollars"), "field 'no_total_cost_dollars' is missing"),
        (_without(SETTLEMENT, "settled_time"), "field 'settled_time' is missing"),
        ({**SETTLEMENT, "event_ticker": 3}, "field 'event_ticker' is not a string"),
        ({**LEGACY_SETTLEMENT, "yes_count": 1.5}, "field 'yes_count' is not an integer count"),
        (
            {**LEGACY_SETTLEMENT, "no_total_cost": "116"},
            "field 'no_total_cost' is not an integer number of cents",
        ),
    ],
)
def test_settlement_malformed_field_message(data: dict[str, Any], message: str) -> None:
    assert _message(parse_settlement, data) == f"malformed Settlement from Kalshi: {message}"


# ------------------------------------------------------------------------------ trades
TRADE: dict[str, Any] = {
    "trade_id": "trade-1",
    "ticker": TICKER,
    "count_fp": "13.00",
    "yes_price_dollars": "0.4300",
    "no_price_dollars": "0.5700",
    "taker_side": "no",
    "taker_outcome_side": "no",
    "taker_book_side": "ask",
    "created_time": "2026-10-02T15:04:05Z",
    "is_block_trade": False,
}
LEGACY_TRADE: dict[str, Any] = {
    "trade_id": "trade-1",
    "ticker": TICKER,
    "count": 13,
    "yes_price": 43,
    "no_price": 57,
    "price": 0.43,  # deprecated, ignored (a float: the parser must not read it)
    "taker_side": "yes",
    "created_time": "2026-10-02T15:04:05Z",
}


def test_trade_current_and_legacy_every_field() -> None:
    assert parse_trade(TRADE) == Trade(
        trade_id="trade-1",
        ticker=TICKER,
        count=Decimal(13),
        yes_price=Decimal("0.43"),
        no_price=Decimal("0.57"),
        taker_outcome_side="no",
        created_time=CREATED,
    )
    assert parse_trade(LEGACY_TRADE) == Trade(
        trade_id="trade-1",
        ticker=TICKER,
        count=Decimal(13),
        yes_price=Decimal("0.43"),
        no_price=Decimal("0.57"),
        taker_outcome_side="yes",
        created_time=CREATED,
    )


def test_trade_taker_side_fallback() -> None:
    assert parse_trade({**TRADE, "taker_outcome_side": "yes"}).taker_outcome_side == "yes"
    assert parse_trade(_without(TRADE, "taker_outcome_side")).taker_outcome_side == "no"
    assert parse_trade({**TRADE, "taker_outcome_side": None}).taker_outcome_side == "no"
    neither = _without(TRADE, "taker_outcome_side", "taker_side")
    assert parse_trade(neither).taker_outcome_side is None
    assert parse_trade({**TRADE, "count_fp": "13.50", "count": 2}).count == Decimal("13.5")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_without(TRADE, "trade_id"), "field 'trade_id' is missing"),
        (_without(TRADE, "ticker"), "field 'ticker' is missing"),
        (_without(TRADE, "count_fp"), "field 'count_fp' is missing"),
        (_without(TRADE, "yes_price_dollars"), "field 'yes_price_dollars' is missing"),
        (_without(TRADE, "no_price_dollars"), "field 'no_price_dollars' is missing"),
        (_without(TRADE, "created_time"), "field 'created_time' is missing"),
        ({**TRADE, "taker_outcome_side": 1}, "field 'taker_outcome_side' is not a string"),
        ({**LEGACY_TRADE, "no_price": 101}, "field 'no_price' is outside [0, 1]: 1.01"),
        ({**LEGACY_TRADE, "count": -1}, "field 'count' is outside [0, None]: -1"),
    ],
)
def test_trade_malformed_field_message(data: dict[str, Any], message: str) -> None:
    assert _message(parse_trade, data) == f"malformed Trade from Kalshi: {message}"


# ----------------------------------------------------------------------------- balance
def test_balance_current_and_legacy() -> None:
    # A4.9 today: exact dollars next to the truncated cents; portfolio value in cents.
    body = {"balance": 10050, "balance_dollars": "100.5025", "portfolio_value": 2340,
            "updated_ts": 1790000000}  # fmt: skip
    assert parse_balance(body) == Balance(
        balance=Decimal("100.5025"),
        portfolio_value=Decimal("23.40"),
        updated_ts=dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC),
    )
    # Before Oct 2025 only `balance` (cents) was returned.
    assert parse_balance({"balance": 10050}) == Balance(Decimal("100.50"), None, None)
    # A dollar form of the portfolio value wins over the cents, as for every other field.
    dollars = {"balance_dollars": "100.5000", "portfolio_value_dollars": "23.4050",
               "portfolio_value": 2340}  # fmt: skip
    assert parse_balance(dollars).portfolio_value == Decimal("23.4050")
    assert parse_balance(_without(dollars, "portfolio_value")).portfolio_value == Decimal("23.4050")
    assert parse_balance({"balance": -250, "portfolio_value": 0}) == Balance(
        Decimal("-2.50"), Decimal(0), None
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"portfolio_value": 2340}, "field 'balance_dollars' is missing"),
        ({"balance": "10050"}, "field 'balance' is not an integer number of cents"),
        ({"balance": 10**17}, "field 'balance' is out of range"),
        (
            {"balance": 1, "portfolio_value": 2.5},
            "field 'portfolio_value' is not an integer number of cents",
        ),
        (
            {"balance": 1, "portfolio_value_dollars": "x"},
            "field 'portfolio_value_dollars' is not a fixed-point decimal string: 'x'",
        ),
        ({"balance": 1, "updated_ts": "1790000000"}, "field 'updated_ts' is not an integer"),
        (
            {"balance": 1, "updated_ts": 10**20},
            f"field 'updated_ts' is not a valid Unix time: {10**20}",
        ),
    ],
)
def test_balance_malformed_field_message(data: dict[str, Any], message: str) -> None:
    assert _message(parse_balance, data) == f"malformed Balance from Kalshi: {message}"


# ------------------------------------------------------------------------------ market
def test_legacy_market_reads_its_own_no_side() -> None:
    # A stale legacy quote whose NO side is not the reciprocal of the YES side is read as sent.
    legacy = {"ticker": "OLD-1", "event_ticker": "OLD", "status": "active", "yes_bid": 42,
              "yes_ask": 44, "no_bid": 50, "no_ask": 61}  # fmt: skip
    market = parse_market(legacy)
    assert (market.no_bid, market.no_ask) == (Decimal("0.50"), Decimal("0.61"))
    assert parse_market({**legacy, "no_bid": None}).no_bid == Decimal("0.56")  # 1 - yes_ask


def test_market_errors_name_the_market_record() -> None:
    body = {"ticker": "T", "event_ticker": "E", "status": "active", "yes_bid_dollars": "0.4200"}
    assert _message(parse_market, body) == (
        "malformed Market from Kalshi: field 'yes_ask_dollars' is missing"
    )
    assert _message(parse_market, {**body, "yes_ask_dollars": "0.44", "result": 1}) == (
        "malformed Market from Kalshi: field 'result' is not a string"
    )
    assert _message(parse_market, "market") == (
        "malformed Market from Kalshi: field '<record>' is not a JSON object"
    )


# --------------------------------------------------------------------------- orderbook
def _book(yes: list[tuple[str, str]], no: list[tuple[str, str]]) -> Orderbook:
    def side(levels: list[tuple[str, str]]) -> tuple[OrderbookLevel, ...]:
        return tuple(OrderbookLevel(Decimal(p), Decimal(c)) for p, c in levels)

    return Orderbook(TICKER, side(yes), side(no))


def test_orderbook_current_and_legacy_whole_books() -> None:
    current = {
        "orderbook_fp": {
            "yes_dollars": [["0.0100", "200.00"], ["0.4200", "13.00"]],
            "no_dollars": [["0.5600", "17.00"], ["0.4400", "29.50"]],
        }
    }
    assert parse_orderbook(current, TICKER) == _book(
        yes=[("0.01", "200"), ("0.42", "13")], no=[("0.44", "29.5"), ("0.56", "17")]
    )
    legacy = {"orderbook": {"yes": [[42, 13], [1, 200]], "no": [[44, 29], [56, 17]]}}
    assert parse_orderbook(legacy, TICKER) == _book(
        yes=[("0.01", "200"), ("0.42", "13")], no=[("0.44", "29"), ("0.56", "17")]
    )
    # Transitional (KOA37): both shapes; the fixed-point book is read.
    both = {**legacy, **current}
    assert parse_orderbook(both, TICKER) == parse_orderbook(current, TICKER)
    assert parse_orderbook({"orderbook_fp": {}}, TICKER) == Orderbook(TICKER, (), ())
    assert parse_orderbook({"orderbook": {"yes": None}}, TICKER) == Orderbook(TICKER, (), ())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"orderbook": {"no": [["55", 7]]}},
            "field 'orderbook.no[0]' is not an integer number of cents",
        ),
        (
            {"orderbook": {"no": [[55, 7], [56]]}},
            "field 'orderbook.no[1]' is not a [price, count] pair",
        ),
        ({"orderbook": {"no": {"55": 7}}}, "field 'orderbook.no' is not a list of levels"),
        ({"orderbook": {"yes": [[101, 7]]}}, "field 'orderbook.yes[0]' is outside [0, 1]: 1.01"),
        (
            {"orderbook": {"yes": [[42, None]]}},
            "field 'orderbook.yes[0]' has a null price or count",
        ),
        ({"orderbook": {"yes": [[42, -1]]}}, "field 'orderbook.yes[0]' is outside [0, None]: -1"),
        ({"orderbook": {"yes": [[42, 10**15]]}}, "field 'orderbook.yes[0]' is out of range"),
        (
            {"orderbook": {"yes": [["0.4200", "1.00"]]}},
            "field 'orderbook.yes[0]' is not an integer number of cents",
        ),
        (
            {"orderbook_fp": {"no_dollars": [["0.4200", "1.00"], ["x", "1.00"]]}},
            "field 'orderbook_fp.no_dollars[1]' is not a fixed-point decimal string: 'x'",
        ),
        (
            {"orderbook_fp": {"no_dollars": [["0.4200", "1.001"]]}},
            "field 'orderbook_fp.no_dollars[0]' has more than 2 decimal places: 1.001",
        ),
        (
            {"orderbook_fp": {"no_dollars": [["0.42001", None]]}},
            "field 'orderbook_fp.no_dollars[0]' has more than 4 decimal places: 0.42001",
        ),
        ({"orderbook_fp": []}, "field '<record>' is not a JSON object"),
        ({"orderbook": "none"}, "field '<record>' is not a JSON object"),
    ],
)
def test_orderbook_malformed_level_message(data: dict[str, Any], message: str) -> None:
    assert _message(lambda body: parse_orderbook(body, TICKER), data) == (
        f"malformed Orderbook from Kalshi: {message}"
    )


# ------------------------------------------------------------------ pages and cursors
@pytest.mark.parametrize(
    ("body", "cursor"),
    [
        ({"cursor": "CgwI2Zq"}, "CgwI2Zq"),
        ({"cursor": ""}, None),
        ({"cursor": None}, None),
        ({}, None),
    ],
)
def test_page_cursor_empty_null_or_missing_means_no_more_pages(
    body: dict[str, Any], cursor: str | None
) -> None:
    assert page_cursor(body) == cursor


def test_page_cursor_that_is_not_a_string() -> None:
    assert _message(page_cursor, {"cursor": 5}) == (
        "malformed page from Kalshi: field 'cursor' is not a string"
    )


def test_list_of_records() -> None:
    assert parse_list(None, parse_trade, record="Trade") == ((), ())
    items, errors = parse_list(
        [TRADE, {"ticker": TICKER}, LEGACY_TRADE], parse_trade, record="Trade"
    )
    assert items == (parse_trade(TRADE), parse_trade(LEGACY_TRADE))
    assert [str(e) for e in errors] == [
        "malformed Trade[1] from Kalshi: field 'trade_id' is missing"
    ]
    assert _message(lambda v: parse_list(v, parse_trade, record="Trade"), {"trades": []}) == (
        "malformed Trade from Kalshi: field '<list>' is not a JSON array"
    )


def test_page_of_records() -> None:
    page = parse_page(
        {"fills": [FILL, _without(FILL, "order_id")], "cursor": "next"},
        "fills",
        parse_fill,
        record="Fill",
    )
    assert page.items == (parse_fill(FILL),)
    assert [str(e) for e in page.errors] == [
        "malformed Fill[1] from Kalshi: field 'order_id' is missing"
    ]
    assert page.cursor == "next"
    assert parse_page({"cursor": ""}, "fills", parse_fill, record="Fill").items == ()
    assert _message(lambda b: parse_page(b, "fills", parse_fill, record="Fill"), []) == (
        "malformed Fill page from Kalshi: field '<record>' is not a JSON object"
    )
    assert _message(
        lambda b: parse_page(b, "fills", parse_fill, record="Fill"), {"fills": "none"}
    ) == ("malformed Fill from Kalshi: field '<list>' is not a JSON array")
    assert _message(
        lambda b: parse_page(b, "fills", parse_fill, record="Fill"), {"fills": [], "cursor": 1}
    ) == ("malformed page from Kalshi: field 'cursor' is not a string")


def test_positions_page_shapes() -> None:
    assert _message(parse_positions_page, "positions") == (
        "malformed positions page from Kalshi: field '<record>' is not a JSON object"
    )
    assert _message(parse_positions_page, {"market_positions": {}}) == (
        "malformed MarketPosition from Kalshi: field '<list>' is not a JSON array"
    )
    assert _message(parse_positions_page, {"event_positions": "x"}) == (
        "malformed EventPosition from Kalshi: field '<list>' is not a JSON array"
    )
    bad = parse_positions_page(
        {"market_positions": [{"ticker": "T"}], "event_positions": [{"event_ticker": "E"}]}
    )
    assert [str(e) for e in bad.errors] == [
        "malformed MarketPosition[0] from Kalshi: field 'position_fp' is missing",
        "malformed EventPosition[0] from Kalshi: field 'total_cost_dollars' is missing",
    ]
    assert parse_positions_page({"cursor": "p2"}).cursor == "p2"


# ---------------------------------------------------------------------- field reader
@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        ({"s": 5}, lambda f: f.text("s"), "field 's' is not a string"),
        ({"s": ["a"]}, lambda f: f.text_or_none("s"), "field 's' is not a string"),
        (
            {"old": "42"},
            lambda f: f.price("p", "old"),
            "field 'old' is not an integer number of cents",
        ),
        ({"old": 101}, lambda f: f.price("p", "old"), "field 'old' is outside [0, 1]: 1.01"),
        ({"old": -1}, lambda f: f.price("p", "old"), "field 'old' is outside [0, 1]: -0.01"),
        ({"old": 10**15}, lambda f: f.price("p", "old"), "field 'old' is out of range"),
        (
            {"old": "5"},
            lambda f: f.money("m", "old"),
            "field 'old' is not an integer number of cents",
        ),
        ({"old": 10**17}, lambda f: f.money("m", "old"), "field 'old' is out of range"),
        (
            {"m": "0.1234567"},
            lambda f: f.money("m"),
            "field 'm' has more than 6 decimal places: 0.1234567",
        ),
        (
            {"m": Decimal("0.1234567")},
            lambda f: f.money("m"),
            "field 'm' has more than 6 decimal places: 0.1234567",
        ),
        ({"old": 10**15}, lambda f: f.count("c", "old"), "field 'old' is out of range"),
        ({"old": -3}, lambda f: f.count("c", "old"), "field 'old' is outside [0, None]: -3"),
        ({"n": 10**15}, lambda f: f.number_or_none("n"), "field 'n' is out of range"),
        ({"n": -(10**15)}, lambda f: f.number_or_none("n"), "field 'n' is out of range"),
        ({"b": None}, lambda f: f.boolean("b"), "field 'b' is missing"),
        ({"b": 1}, lambda f: f.boolean("b"), "field 'b' is not a boolean"),
        (
            {"t": LONG_NAIVE},
            lambda f: f.time("t"),
            f"field 't' has no UTC offset: {LONG_NAIVE[:40]!r}",
        ),
    ],
)
def test_field_reader_message(
    data: dict[str, Any], read: Callable[[_Fields], Any], message: str
) -> None:
    assert _message(lambda d: read(_Fields("Order", d)), data) == (
        f"malformed Order from Kalshi: {message}"
    )


def test_field_reader_accepts_the_limits() -> None:
    f = _Fields(
        "Order",
        {"n": 10**15 - 1, "neg": -(10**15) + 1, "m": "0.123456", "old": 100, "zero": 0,
         "signed": "-3.00", "cnt": 7},
    )  # fmt: skip
    assert f.number_or_none("n") == Decimal(10**15 - 1)
    assert f.number_or_none("neg") == Decimal(-(10**15) + 1)
    assert str(f.money("m")) == "0.123456"
    assert f.price("p", "old") == Decimal(1)
    assert f.price("p", "zero") == Decimal(0)
    assert f.count("signed", signed=True) == Decimal(-3)
    assert f.count("c", "cnt") == Decimal(7)
    assert f.money("m", "old") == Decimal("0.123456")  # the current field wins
    assert f.money("absent", "old") == Decimal("1.00")
    assert f.cents_as_dollars("absent") is None
    assert f.text_or_none("absent") is None
    assert _message(lambda d: _Fields("Order", d), ["not", "an", "object"]) == (
        "malformed Order from Kalshi: field '<record>' is not a JSON object"
    )
