"""Typed, frozen records of Kalshi REST objects and the parsers that build them.

Owns the wire -> record boundary for Kalshi REST: every price and money amount becomes a
`Decimal` in DOLLARS, every count a `Decimal` (contracts may be fractional), every
timestamp an aware UTC `datetime`, status strings stay exactly as the venue sends them.

Eras (reference A3/A4): the current fixed-point fields (`yes_bid_dollars: "0.4200"`,
`volume_fp: "12500.00"`) are read first; when only the legacy integer fields are present
(`yes_bid: 42` cents, `volume: 12500` contracts, `balance: 10050` cents) they are converted.
Floats never appear: `decode_json` turns JSON numbers with a fraction into `Decimal`, and a
float handed to a parser is rejected.

Failure model: a malformed record raises `ParseError` naming the record and the field;
`parse_list` keeps the good records of a list and reports the bad ones (`ParsedPage.errors`)
instead of dropping the whole page. Records are frozen dataclasses with slots.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from precog.api_connectors.errors import ParseError

T = TypeVar("T")

_FIXED_POINT = re.compile(r"-?\d{1,18}(\.\d{1,8})?")
_ONE = Decimal(1)
_MAX_ABS = Decimal(10) ** 15  # wider than any real account or market; guards NUMERIC columns
PRICE_PLACES = 4  # responses emit up to 4 decimals for prices
MONEY_PLACES = 6  # some portfolio money fields emit up to 6 (reference A3); NUMERIC(20,6)
COUNT_PLACES = 2  # counts always emit 2 decimals; 0.01 contract granularity


def decode_json(payload: bytes | str) -> Any:
    """JSON -> Python with every fractional number as `Decimal` (never `float`)."""
    return json.loads(payload, parse_float=Decimal)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


class _Fields:
    """Typed field access on one JSON object; every failure is a ParseError naming the field."""

    __slots__ = ("data", "record")

    def __init__(self, record: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise ParseError(record=record, field="<record>", problem="is not a JSON object")
        self.record = record
        self.data: Mapping[str, Any] = data

    def fail(self, name: str, problem: str) -> ParseError:
        return ParseError(record=self.record, field=name, problem=problem)

    def present(self, name: str) -> bool:
        return self.data.get(name) is not None

    # -- scalars -------------------------------------------------------------------
    def text(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self.fail(name, "is missing" if value is None else "is not a string")
        return value

    def text_or_none(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(name, "is not a string")
        return value

    def boolean(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, "is missing" if value is None else "is not a boolean")
        return value

    def integer_or_none(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "is not an integer")
        return value

    # -- decimals ------------------------------------------------------------------
    def _fixed_point(self, name: str, value: object) -> Decimal:
        """A fixed-point string ("0.5600", "10.00"); transitional ints are tolerated."""
        if isinstance(value, str):
            if _FIXED_POINT.fullmatch(value) is None:
                raise self.fail(name, f"is not a fixed-point decimal string: {value[:40]!r}")
            return Decimal(value)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(name, "is not a decimal string")
        return self._number(name, value)

    def _number(self, name: str, value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(name, "is not a number")
        number = Decimal(value)
        if not number.is_finite() or abs(number) >= _MAX_ABS:
            raise self.fail(name, "is out of range")
        return number

    def _checked(
        self, name: str, value: Decimal, *, places: int, low: Decimal | None, high: Decimal | None
    ) -> Decimal:
        if _places(value) > places:
            raise self.fail(name, f"has more than {places} decimal places: {value}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(name, f"is outside [{low}, {high}]: {value}")
        return value

    def _get(self, current: str, legacy: str | None) -> tuple[str, object, bool]:
        """(field name used, raw value, is_legacy); current field wins when both exist."""
        value = self.data.get(current)
        if value is not None or legacy is None:
            return current, value, False
        return legacy, self.data.get(legacy), True

    def price(self, current: str, legacy_cents: str | None = None) -> Decimal:
        result = self.price_or_none(current, legacy_cents)
        if result is None:
            raise self.fail(current, "is missing")
        return result

    def price_or_none(self, current: str, legacy_cents: str | None = None) -> Decimal | None:
        """A YES/NO price in dollars within [0, 1]."""
        name, value, legacy = self._get(current, legacy_cents)
        return None if value is None else self.price_value(name, value, legacy=legacy)

    def price_value(self, name: str, value: object, *, legacy: bool) -> Decimal:
        """A price given as a dollar string, or (legacy) as integer cents."""
        dollars = self._legacy_cents(name, value) if legacy else self._fixed_point(name, value)
        return self._checked(name, dollars, places=PRICE_PLACES, low=Decimal(0), high=_ONE)

    def money(self, current: str, legacy_cents: str | None = None) -> Decimal:
        result = self.money_or_none(current, legacy_cents)
        if result is None:
            raise self.fail(current, "is missing")
        return result

    def money_or_none(self, current: str, legacy_cents: str | None = None) -> Decimal | None:
        """A (possibly negative) dollar amount."""
        name, value, legacy = self._get(current, legacy_cents)
        if value is None:
            return None
        dollars = self._legacy_cents(name, value) if legacy else self._fixed_point(name, value)
        return self._checked(name, dollars, places=MONEY_PLACES, low=None, high=None)

    def cents_as_dollars(self, name: str) -> Decimal | None:
        """A field that is integer cents even in the current era (e.g. settlement `revenue`)."""
        value = self.data.get(name)
        return None if value is None else self._legacy_cents(name, value)

    def _legacy_cents(self, name: str, value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "is not an integer number of cents")
        return self._number(name, value).scaleb(-2)

    def count(self, current: str, legacy: str | None = None, *, signed: bool = False) -> Decimal:
        result = self.count_or_none(current, legacy, signed=signed)
        if result is None:
            raise self.fail(current, "is missing")
        return result

    def count_or_none(
        self, current: str, legacy: str | None = None, *, signed: bool = False
    ) -> Decimal | None:
        """A number of contracts (fixed-point string, or a legacy integer)."""
        name, value, is_legacy = self._get(current, legacy)
        if value is None:
            return None
        return self.count_value(name, value, legacy=is_legacy, signed=signed)

    def count_value(
        self, name: str, value: object, *, legacy: bool, signed: bool = False
    ) -> Decimal:
        """A count given as a fixed-point string, or (legacy) as an integer."""
        if legacy:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(name, "is not an integer count")
            number = self._number(name, value)
        else:
            number = self._fixed_point(name, value)
        low = None if signed else Decimal(0)
        return self._checked(name, number, places=COUNT_PLACES, low=low, high=None)

    def number_or_none(self, name: str) -> Decimal | None:
        """A plain JSON number (e.g. strikes): int or Decimal, never float."""
        value = self.data.get(name)
        return None if value is None else self._number(name, value)

    # -- time ----------------------------------------------------------------------
    def time(self, name: str) -> dt.datetime:
        result = self.time_or_none(name)
        if result is None:
            raise self.fail(name, "is missing")
        return result

    def time_or_none(self, name: str) -> dt.datetime | None:
        """An RFC 3339 date-time with an offset, as aware UTC."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(name, "is not a date-time string")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(name, f"is not an RFC 3339 date-time: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            raise self.fail(name, f"has no UTC offset: {value[:40]!r}")
        return parsed.astimezone(dt.UTC)

    def unix_or_none(self, name: str) -> dt.datetime | None:
        """Unix seconds (int) as aware UTC."""
        value = self.integer_or_none(name)
        if value is None:
            return None
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise self.fail(name, f"is not a valid Unix time: {value}") from None


# ------------------------------------------------------------------------ records
@dataclass(frozen=True, slots=True)
class ParsedPage(Generic[T]):
    """One page of a list: the good records, the bad ones (as errors), the next cursor."""

    items: tuple[T, ...]
    errors: tuple[ParseError, ...] = ()
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    estimated_resume_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class HistoricalCutoff:
    """GET /historical/cutoff: records older than these instants are served only by the
    /historical/* endpoints (fills by `trades_created_ts`, finished orders by
    `orders_updated_ts`, settled markets by `market_settled_ts`)."""

    market_settled_ts: dt.datetime
    trades_created_ts: dt.datetime
    orders_updated_ts: dt.datetime


@dataclass(frozen=True, slots=True)
class Market:
    ticker: str
    event_ticker: str
    status: str
    market_type: str | None
    title: str | None
    subtitle: str | None
    yes_sub_title: str | None
    no_sub_title: str | None
    yes_bid: Decimal
    yes_ask: Decimal
    no_bid: Decimal
    no_ask: Decimal
    last_price: Decimal | None
    yes_bid_size: Decimal | None
    yes_ask_size: Decimal | None
    volume: Decimal | None
    volume_24h: Decimal | None
    open_interest: Decimal | None
    notional_value: Decimal | None
    previous_yes_bid: Decimal | None
    previous_yes_ask: Decimal | None
    previous_price: Decimal | None
    result: str
    can_close_early: bool | None
    settlement_value: Decimal | None
    settlement_ts: dt.datetime | None
    created_time: dt.datetime | None
    updated_time: dt.datetime | None
    open_time: dt.datetime | None
    close_time: dt.datetime | None
    expected_expiration_time: dt.datetime | None
    latest_expiration_time: dt.datetime | None
    strike_type: str | None
    floor_strike: Decimal | None
    cap_strike: Decimal | None
    price_level_structure: str | None


@dataclass(frozen=True, slots=True)
class OrderbookLevel:
    price: Decimal
    count: Decimal


@dataclass(frozen=True, slots=True)
class Orderbook:
    """Bids only, per side, sorted ascending by price (best bid last), as Kalshi sends."""

    ticker: str
    yes: tuple[OrderbookLevel, ...]
    no: tuple[OrderbookLevel, ...]

    @property
    def best_yes_bid(self) -> Decimal | None:
        return self.yes[-1].price if self.yes else None

    @property
    def best_yes_ask(self) -> Decimal | None:
        return _ONE - self.no[-1].price if self.no else None


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: str
    ticker: str
    count: Decimal
    yes_price: Decimal
    no_price: Decimal
    taker_outcome_side: str | None
    created_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Event:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str | None
    mutually_exclusive: bool | None
    category: str | None
    strike_date: dt.datetime | None
    markets: tuple[Market, ...]


@dataclass(frozen=True, slots=True)
class Series:
    ticker: str
    title: str
    frequency: str | None
    category: str | None
    tags: tuple[str, ...]
    fee_type: str | None
    fee_multiplier: Decimal | None


@dataclass(frozen=True, slots=True)
class Balance:
    """Account balance in dollars (the API's legacy `balance` is cents)."""

    balance: Decimal
    portfolio_value: Decimal | None
    updated_ts: dt.datetime | None


@dataclass(frozen=True, slots=True)
class MarketPosition:
    ticker: str
    position: Decimal  # signed: + YES contracts, - NO contracts
    total_traded: Decimal
    market_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    last_updated_ts: dt.datetime | None


@dataclass(frozen=True, slots=True)
class EventPosition:
    event_ticker: str
    total_cost: Decimal
    total_cost_shares: Decimal | None
    event_exposure: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    ticker: str
    side: str | None
    action: str | None
    outcome_side: str | None
    book_side: str | None
    count: Decimal
    yes_price: Decimal
    no_price: Decimal
    is_taker: bool | None
    fee_cost: Decimal | None
    created_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    ticker: str
    event_ticker: str | None
    market_result: str
    yes_count: Decimal
    no_count: Decimal
    yes_total_cost: Decimal
    no_total_cost: Decimal
    revenue: Decimal  # dollars (the API sends integer cents)
    fee_cost: Decimal | None
    value: Decimal | None  # dollars per YES contract (API: cents)
    settled_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    client_order_id: str | None
    ticker: str
    status: str
    type: str | None
    side: str | None
    action: str | None
    outcome_side: str | None
    book_side: str | None
    yes_price: Decimal
    no_price: Decimal
    fill_count: Decimal
    remaining_count: Decimal
    initial_count: Decimal | None
    taker_fees: Decimal | None
    maker_fees: Decimal | None
    created_time: dt.datetime | None
    last_update_time: dt.datetime | None
    expiration_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PositionsPage:
    """One page of GET /portfolio/positions: both lists, their bad records, the cursor."""

    market_positions: tuple[MarketPosition, ...]
    event_positions: tuple[EventPosition, ...]
    errors: tuple[ParseError, ...] = ()
    cursor: str | None = None


# ------------------------------------------------------------------------ parsers
def parse_exchange_status(data: object) -> ExchangeStatus:
    f = _Fields("ExchangeStatus", data)
    return ExchangeStatus(
        exchange_active=f.boolean("exchange_active"),
        trading_active=f.boolean("trading_active"),
        estimated_resume_time=f.time_or_none("exchange_estimated_resume_time"),
    )


def parse_historical_cutoff(data: object) -> HistoricalCutoff:
    f = _Fields("HistoricalCutoff", data)
    return HistoricalCutoff(
        market_settled_ts=f.time("market_settled_ts"),
        trades_created_ts=f.time("trades_created_ts"),
        orders_updated_ts=f.time("orders_updated_ts"),
    )


def parse_market(data: object) -> Market:
    f = _Fields("Market", data)
    ticker, event_ticker, status = f.text("ticker"), f.text("event_ticker"), f.text("status")
    yes_bid = f.price("yes_bid_dollars", "yes_bid")
    yes_ask = f.price("yes_ask_dollars", "yes_ask")
    # Reciprocity (reference A4.3): derive the NO side when a shape omits it.
    no_bid = f.price_or_none("no_bid_dollars", "no_bid")
    no_ask = f.price_or_none("no_ask_dollars", "no_ask")
    return Market(
        ticker=ticker,
        event_ticker=event_ticker,
        status=status,
        market_type=f.text_or_none("market_type"),
        title=f.text_or_none("title"),
        subtitle=f.text_or_none("subtitle"),
        yes_sub_title=f.text_or_none("yes_sub_title"),
        no_sub_title=f.text_or_none("no_sub_title"),
        yes_bid=yes_bid,
        yes_ask=yes_ask,
        no_bid=no_bid if no_bid is not None else _ONE - yes_ask,
        no_ask=no_ask if no_ask is not None else _ONE - yes_bid,
        last_price=f.price_or_none("last_price_dollars", "last_price"),
        yes_bid_size=f.count_or_none("yes_bid_size_fp"),
        yes_ask_size=f.count_or_none("yes_ask_size_fp"),
        volume=f.count_or_none("volume_fp", "volume"),
        volume_24h=f.count_or_none("volume_24h_fp", "volume_24h"),
        open_interest=f.count_or_none("open_interest_fp", "open_interest"),
        notional_value=f.money_or_none("notional_value_dollars", "notional_value"),
        previous_yes_bid=f.price_or_none("previous_yes_bid_dollars", "previous_yes_bid"),
        previous_yes_ask=f.price_or_none("previous_yes_ask_dollars", "previous_yes_ask"),
        previous_price=f.price_or_none("previous_price_dollars", "previous_price"),
        result=f.text_or_none("result") or "",
        can_close_early=f.boolean("can_close_early") if f.present("can_close_early") else None,
        settlement_value=f.money_or_none("settlement_value_dollars", "settlement_value"),
        settlement_ts=f.time_or_none("settlement_ts"),
        created_time=f.time_or_none("created_time"),
        updated_time=f.time_or_none("updated_time"),
        open_time=f.time_or_none("open_time"),
        close_time=f.time_or_none("close_time"),
        expected_expiration_time=f.time_or_none("expected_expiration_time"),
        latest_expiration_time=f.time_or_none("latest_expiration_time"),
        strike_type=f.text_or_none("strike_type"),
        floor_strike=f.number_or_none("floor_strike"),
        cap_strike=f.number_or_none("cap_strike"),
        price_level_structure=f.text_or_none("price_level_structure"),
    )


def _levels(
    f: _Fields, name: str, value: object, *, legacy: bool = False
) -> tuple[OrderbookLevel, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise f.fail(name, "is not a list of levels")
    levels: list[OrderbookLevel] = []
    for index, level in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(level, list) or len(level) != 2:
            raise f.fail(where, "is not a [price, count] pair")
        raw_price, raw_count = level
        price = None if raw_price is None else f.price_value(where, raw_price, legacy=legacy)
        count = None if raw_count is None else f.count_value(where, raw_count, legacy=legacy)
        if price is None or count is None:
            raise f.fail(where, "has a null price or count")
        levels.append(OrderbookLevel(price=price, count=count))
    levels.sort(key=lambda lvl: lvl.price)  # sort defensively: best bid last
    return tuple(levels)


def parse_orderbook(data: object, ticker: str) -> Orderbook:
    """The body of GET /markets/{ticker}/orderbook (current `orderbook_fp` or legacy cents)."""
    f = _Fields("Orderbook", data)
    current = f.data.get("orderbook_fp")
    if current is not None:
        book = _Fields("Orderbook", current)
        yes = book.data.get("yes_dollars")
        no = book.data.get("no_dollars")
        return Orderbook(
            ticker=ticker,
            yes=_levels(book, "orderbook_fp.yes_dollars", yes),
            no=_levels(book, "orderbook_fp.no_dollars", no),
        )
    legacy = f.data.get("orderbook")
    if legacy is None:
        raise f.fail("orderbook_fp", "is missing")
    book = _Fields("Orderbook", legacy)
    return Orderbook(
        ticker=ticker,
        yes=_levels(book, "orderbook.yes", book.data.get("yes"), legacy=True),
        no=_levels(book, "orderbook.no", book.data.get("no"), legacy=True),
    )


def parse_trade(data: object) -> Trade:
    f = _Fields("Trade", data)
    return Trade(
        trade_id=f.text("trade_id"),
        ticker=f.text("ticker"),
        count=f.count("count_fp", "count"),
        yes_price=f.price("yes_price_dollars", "yes_price"),
        no_price=f.price("no_price_dollars", "no_price"),
        taker_outcome_side=f.text_or_none("taker_outcome_side") or f.text_or_none("taker_side"),
        created_time=f.time("created_time"),
    )


def parse_event(data: object) -> Event:
    f = _Fields("Event", data)
    nested = f.data.get("markets")
    markets: list[Market] = []
    if nested is not None:
        if not isinstance(nested, list):
            raise f.fail("markets", "is not a list")
        for index, item in enumerate(nested):
            try:
                markets.append(parse_market(item))
            except ParseError as exc:
                raise f.fail(f"markets[{index}].{exc.field}", exc.problem) from None
    return Event(
        event_ticker=f.text("event_ticker"),
        series_ticker=f.text("series_ticker"),
        title=f.text("title"),
        sub_title=f.text_or_none("sub_title"),
        mutually_exclusive=(
            f.boolean("mutually_exclusive") if f.present("mutually_exclusive") else None
        ),
        category=f.text_or_none("category"),
        strike_date=f.time_or_none("strike_date"),
        markets=tuple(markets),
    )


def parse_series(data: object) -> Series:
    f = _Fields("Series", data)
    tags = f.data.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise f.fail("tags", "is not a list of strings")
    return Series(
        ticker=f.text("ticker"),
        title=f.text("title"),
        frequency=f.text_or_none("frequency"),
        category=f.text_or_none("category"),
        tags=tuple(tags or ()),
        fee_type=f.text_or_none("fee_type"),
        fee_multiplier=f.number_or_none("fee_multiplier"),
    )


def parse_balance(data: object) -> Balance:
    """GET /portfolio/balance: `balance_dollars` if present, else `balance` CENTS -> dollars."""
    f = _Fields("Balance", data)
    return Balance(
        balance=f.money("balance_dollars", "balance"),
        portfolio_value=f.money_or_none("portfolio_value_dollars", "portfolio_value"),
        updated_ts=f.unix_or_none("updated_ts"),
    )


def parse_market_position(data: object) -> MarketPosition:
    f = _Fields("MarketPosition", data)
    return MarketPosition(
        ticker=f.text("ticker"),
        position=f.count("position_fp", "position", signed=True),
        total_traded=f.money("total_traded_dollars", "total_traded"),
        market_exposure=f.money("market_exposure_dollars", "market_exposure"),
        realized_pnl=f.money("realized_pnl_dollars", "realized_pnl"),
        fees_paid=f.money("fees_paid_dollars", "fees_paid"),
        last_updated_ts=f.time_or_none("last_updated_ts"),
    )


def parse_event_position(data: object) -> EventPosition:
    f = _Fields("EventPosition", data)
    return EventPosition(
        event_ticker=f.text("event_ticker"),
        total_cost=f.money("total_cost_dollars", "total_cost"),
        total_cost_shares=f.count_or_none("total_cost_shares_fp", "total_cost_shares"),
        event_exposure=f.money("event_exposure_dollars", "event_exposure"),
        realized_pnl=f.money("realized_pnl_dollars", "realized_pnl"),
        fees_paid=f.money("fees_paid_dollars", "fees_paid"),
    )


_OPPOSITE = {"yes": "no", "no": "yes"}
_BOOK_SIDE_OUTCOME = {"bid": "yes", "ask": "no"}


def _outcome_side(f: _Fields) -> str | None:
    """The exposure a fill gained (reference A4.11): `outcome_side`, else derived."""
    explicit = f.text_or_none("outcome_side")
    if explicit is not None:
        return explicit
    book_side = f.text_or_none("book_side")
    if book_side in _BOOK_SIDE_OUTCOME:
        return _BOOK_SIDE_OUTCOME[book_side]
    side, action = f.text_or_none("side"), f.text_or_none("action")
    if side in _OPPOSITE and action in ("buy", "sell"):
        return side if action == "buy" else _OPPOSITE[side]
    return None


def parse_fill(data: object) -> Fill:
    f = _Fields("Fill", data)
    fill_id = f.text_or_none("fill_id") or f.text("trade_id")
    ticker = f.text_or_none("ticker") or f.text("market_ticker")
    created = f.time_or_none("created_time") or f.unix_or_none("ts")
    if created is None:
        raise f.fail("created_time", "is missing (and no legacy `ts`)")
    return Fill(
        fill_id=fill_id,
        order_id=f.text("order_id"),
        ticker=ticker,
        side=f.text_or_none("side"),
        action=f.text_or_none("action"),
        outcome_side=_outcome_side(f),
        book_side=f.text_or_none("book_side"),
        count=f.count("count_fp", "count"),
        yes_price=f.price("yes_price_dollars", "yes_price"),
        no_price=f.price("no_price_dollars", "no_price"),
        is_taker=f.boolean("is_taker") if f.present("is_taker") else None,
        fee_cost=f.money_or_none("fee_cost"),
        created_time=created,
    )


def _required(f: _Fields, name: str, value: Decimal | None) -> Decimal:
    if value is None:
        raise f.fail(name, "is missing")
    return value


def parse_settlement(data: object) -> Settlement:
    f = _Fields("Settlement", data)
    return Settlement(
        ticker=f.text("ticker"),
        event_ticker=f.text_or_none("event_ticker"),
        market_result=f.text("market_result"),
        yes_count=f.count("yes_count_fp", "yes_count"),
        no_count=f.count("no_count_fp", "no_count"),
        yes_total_cost=f.money("yes_total_cost_dollars", "yes_total_cost"),
        no_total_cost=f.money("no_total_cost_dollars", "no_total_cost"),
        revenue=_required(f, "revenue", f.cents_as_dollars("revenue")),
        fee_cost=f.money_or_none("fee_cost"),
        value=f.cents_as_dollars("value"),
        settled_time=f.time("settled_time"),
    )


def parse_order(data: object) -> Order:
    f = _Fields("Order", data)
    return Order(
        order_id=f.text("order_id"),
        client_order_id=f.text_or_none("client_order_id"),
        ticker=f.text("ticker"),
        status=f.text("status"),
        type=f.text_or_none("type"),
        side=f.text_or_none("side"),
        action=f.text_or_none("action"),
        outcome_side=f.text_or_none("outcome_side"),
        book_side=f.text_or_none("book_side"),
        yes_price=f.price("yes_price_dollars", "yes_price"),
        no_price=f.price("no_price_dollars", "no_price"),
        fill_count=f.count("fill_count_fp", "fill_count"),
        remaining_count=f.count("remaining_count_fp", "remaining_count"),
        initial_count=f.count_or_none("initial_count_fp", "initial_count"),
        taker_fees=f.money_or_none("taker_fees_dollars", "taker_fees"),
        maker_fees=f.money_or_none("maker_fees_dollars", "maker_fees"),
        created_time=f.time_or_none("created_time"),
        last_update_time=f.time_or_none("last_update_time"),
        expiration_time=f.time_or_none("expiration_time"),
    )


# ------------------------------------------------------------------------ lists
def parse_list(
    values: object, parser: Callable[[object], T], *, record: str
) -> tuple[tuple[T, ...], tuple[ParseError, ...]]:
    """Parse every element; bad elements become located errors, the rest is kept."""
    if values is None:
        return (), ()
    if not isinstance(values, list):
        raise ParseError(record=record, field="<list>", problem="is not a JSON array")
    items: list[T] = []
    errors: list[ParseError] = []
    for index, value in enumerate(values):
        try:
            items.append(parser(value))
        except ParseError as exc:
            errors.append(exc.at(index))
    return tuple(items), tuple(errors)


def page_cursor(body: Mapping[str, Any]) -> str | None:
    """The next-page cursor; empty string / null / missing all mean 'no more pages'."""
    cursor = body.get("cursor")
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise ParseError(record="page", field="cursor", problem="is not a string")
    return cursor


def parse_page(
    body: object, key: str, parser: Callable[[object], T], *, record: str
) -> ParsedPage[T]:
    """A list response `{key: [...], "cursor": "..."}` as a ParsedPage."""
    f = _Fields(f"{record} page", body)
    items, errors = parse_list(f.data.get(key), parser, record=record)
    return ParsedPage(items=items, errors=errors, cursor=page_cursor(f.data))


def parse_positions_page(body: object) -> PositionsPage:
    f = _Fields("positions page", body)
    markets, market_errors = parse_list(
        f.data.get("market_positions"), parse_market_position, record="MarketPosition"
    )
    events, event_errors = parse_list(
        f.data.get("event_positions"), parse_event_position, record="EventPosition"
    )
    return PositionsPage(
        market_positions=markets,
        event_positions=events,
        errors=market_errors + event_errors,
        cursor=page_cursor(f.data),
    )


def object_field(body: object, key: str, *, record: str) -> object:
    """`body[key]` of a single-object response (`{"market": {...}}`)."""
    f = _Fields(f"{record} response", body)
    value = f.data.get(key)
    if value is None:
        raise f.fail(key, "is missing")
    return value


__all__ = [
    "Balance",
    "Event",
    "EventPosition",
    "ExchangeStatus",
    "Fill",
    "HistoricalCutoff",
    "Market",
    "MarketPosition",
    "Order",
    "Orderbook",
    "OrderbookLevel",
    "ParsedPage",
    "PositionsPage",
    "Series",
    "Settlement",
    "Trade",
    "decode_json",
    "object_field",
    "page_cursor",
    "parse_balance",
    "parse_event",
    "parse_event_position",
    "parse_exchange_status",
    "parse_fill",
    "parse_historical_cutoff",
    "parse_list",
    "parse_market",
    "parse_market_position",
    "parse_order",
    "parse_orderbook",
    "parse_page",
    "parse_positions_page",
    "parse_series",
    "parse_settlement",
    "parse_trade",
]
