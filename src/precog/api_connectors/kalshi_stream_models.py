"""Typed, frozen records of what the Kalshi WebSocket delivers, and their wire parsers.

Same boundary rules as the REST records (`kalshi_models`): prices and money are `Decimal`
DOLLARS, sizes/volumes are `Decimal` contracts, times are aware UTC `datetime`s, and floats
never appear. The current fixed-point fields (``yes_bid_dollars``, ``volume_fp``) are read
first; the legacy integer fields (``yes_bid`` cents, ``volume``) are the fallback (reference
A7.7). Every record carries ``received_at`` (the client's clock when the frame arrived) and,
where the message has one, ``venue_time`` (``ts_ms``, else ``ts``/``time``).

A malformed message raises `ParseError` naming the message type and the field. Order books
are kept by the client (`OrderBook`); after each snapshot or delta it emits a `BookUpdate`
with the best bid of each side and the asks they imply (``yes_ask = 1 - best NO bid``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from precog.api_connectors.errors import ParseError
from precog.api_connectors.kalshi_models import _Fields

ONE = Decimal(1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class StreamState(StrEnum):
    """The client's connection state machine (SPEC §5)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


# ------------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """One `ticker` message: the market's top of book, last price and totals."""

    market_ticker: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    last_price: Decimal | None
    yes_bid_size: Decimal | None
    yes_ask_size: Decimal | None
    last_trade_size: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    venue_time: dt.datetime | None
    received_at: dt.datetime

    @property
    def no_bid(self) -> Decimal | None:
        return None if self.yes_ask is None else ONE - self.yes_ask

    @property
    def no_ask(self) -> Decimal | None:
        return None if self.yes_bid is None else ONE - self.yes_bid


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One public trade (`trade` channel)."""

    trade_id: str | None
    market_ticker: str
    yes_price: Decimal
    no_price: Decimal
    count: Decimal
    taker_side: str | None
    venue_time: dt.datetime | None
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One `market_lifecycle_v2` message (``event_type`` as the venue sends it)."""

    market_ticker: str
    event_type: str
    result: str | None
    settlement_value: Decimal | None
    open_time: dt.datetime | None
    close_time: dt.datetime | None
    determination_time: dt.datetime | None
    settled_time: dt.datetime | None
    is_deactivated: bool | None
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One fill of the account (private `fill` channel)."""

    trade_id: str | None
    order_id: str | None
    client_order_id: str | None
    market_ticker: str
    side: str
    action: str | None
    yes_price: Decimal
    count: Decimal
    fee_cost: Decimal | None
    post_position: Decimal | None
    is_taker: bool | None
    venue_time: dt.datetime | None
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """An `orderbook_snapshot`: every resting bid of both sides (price -> size)."""

    market_ticker: str
    sid: int
    seq: int | None
    yes: tuple[tuple[Decimal, Decimal], ...]
    no: tuple[tuple[Decimal, Decimal], ...]
    venue_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class BookDelta:
    """An `orderbook_delta`: the resting size at one price of one side changed by `delta`."""

    market_ticker: str
    sid: int
    seq: int | None
    side: str
    price: Decimal
    delta: Decimal
    venue_time: dt.datetime | None


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The top of a local order book right after a snapshot or delta was applied.

    ``yes_ask = 1 - best NO bid`` and ``no_ask = 1 - best YES bid`` (reference A4); the size
    at the YES ask is the size of the best NO bid.
    """

    market_ticker: str
    yes_bid: Decimal | None
    yes_bid_size: Decimal | None
    no_bid: Decimal | None
    no_bid_size: Decimal | None
    snapshot: bool
    venue_time: dt.datetime | None
    received_at: dt.datetime

    @property
    def yes_ask(self) -> Decimal | None:
        return None if self.no_bid is None else ONE - self.no_bid

    @property
    def no_ask(self) -> Decimal | None:
        return None if self.yes_bid is None else ONE - self.yes_bid

    @property
    def yes_ask_size(self) -> Decimal | None:
        return self.no_bid_size


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """The client's state changed (the market data manager fails over on this)."""

    state: StreamState
    reason: str
    at: dt.datetime


StreamEvent = TickerUpdate | TradeEvent | LifecycleEvent | FillEvent | BookUpdate | ConnectionChange


# ------------------------------------------------------------------------------- parsers
def _venue_time(f: _Fields) -> dt.datetime | None:
    """``ts_ms`` (ms) first, then ``ts`` (Unix seconds, or RFC 3339 on deltas), then ``time``."""
    ms = f.integer_or_none("ts_ms")
    if ms is not None:
        return _EPOCH + dt.timedelta(milliseconds=ms)
    if isinstance(f.data.get("ts"), str):
        return f.time_or_none("ts")
    return f.unix_or_none("ts") or f.time_or_none("time")


def _price_or_none(f: _Fields, current: str, legacy_cents: str) -> Decimal | None:
    # SSMD saw `price_dollars: ""` for markets that never traded: that means "no price".
    if f.data.get(current) == "":
        return None
    return f.price_or_none(current, legacy_cents)


def parse_ticker(data: object, received_at: dt.datetime) -> TickerUpdate:
    f = _Fields("ticker", data)
    return TickerUpdate(
        market_ticker=f.text("market_ticker"),
        yes_bid=_price_or_none(f, "yes_bid_dollars", "yes_bid"),
        yes_ask=_price_or_none(f, "yes_ask_dollars", "yes_ask"),
        last_price=_price_or_none(f, "price_dollars", "price"),
        yes_bid_size=f.count_or_none("yes_bid_size_fp"),
        yes_ask_size=f.count_or_none("yes_ask_size_fp"),
        last_trade_size=f.count_or_none("last_trade_size_fp"),
        volume=f.count_or_none("volume_fp", "volume"),
        open_interest=f.count_or_none("open_interest_fp", "open_interest"),
        venue_time=_venue_time(f),
        received_at=received_at,
    )


def parse_trade_event(data: object, received_at: dt.datetime) -> TradeEvent:
    f = _Fields("trade", data)
    yes_price = f.price("yes_price_dollars", "yes_price")
    no_price = f.price_or_none("no_price_dollars", "no_price")
    return TradeEvent(
        trade_id=f.text_or_none("trade_id"),
        market_ticker=f.text("market_ticker"),
        yes_price=yes_price,
        no_price=ONE - yes_price if no_price is None else no_price,
        count=f.count("count_fp", "count"),
        taker_side=f.text_or_none("taker_side"),
        venue_time=_venue_time(f),
        received_at=received_at,
    )


def parse_lifecycle(data: object, received_at: dt.datetime) -> LifecycleEvent:
    f = _Fields("market_lifecycle_v2", data)
    deactivated = f.data.get("is_deactivated")
    return LifecycleEvent(
        market_ticker=f.text("market_ticker"),
        event_type=f.text("event_type"),
        result=f.text_or_none("result") or None,
        settlement_value=f.price_or_none("settlement_value"),
        open_time=f.unix_or_none("open_ts"),
        close_time=f.unix_or_none("close_ts"),
        determination_time=f.unix_or_none("determination_ts"),
        settled_time=f.unix_or_none("settled_ts"),
        is_deactivated=deactivated if isinstance(deactivated, bool) else None,
        received_at=received_at,
    )


def parse_fill_event(data: object, received_at: dt.datetime) -> FillEvent:
    f = _Fields("fill", data)
    return FillEvent(
        trade_id=f.text_or_none("trade_id"),
        order_id=f.text_or_none("order_id"),
        client_order_id=f.text_or_none("client_order_id"),
        market_ticker=f.text("market_ticker"),
        side=f.text("side"),
        action=f.text_or_none("action"),
        yes_price=f.price("yes_price_dollars", "yes_price"),
        count=f.count("count_fp", "count"),
        fee_cost=f.money_or_none("fee_cost"),
        post_position=f.count_or_none("post_position_fp", "post_position", signed=True),
        is_taker=f.data.get("is_taker") if isinstance(f.data.get("is_taker"), bool) else None,
        venue_time=_venue_time(f),
        received_at=received_at,
    )


def _book_side(f: _Fields, current: str, legacy: str) -> tuple[tuple[Decimal, Decimal], ...]:
    """``[[price_dollars, count_fp], ...]``; legacy ``[[cents, count], ...]``; absent = empty."""
    raw = f.data.get(current)
    is_legacy = raw is None
    if is_legacy:
        raw = f.data.get(legacy)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise f.fail(current, "is not a list of [price, size] levels")
    levels = []
    for index, level in enumerate(raw):
        if not isinstance(level, list) or len(level) != 2:
            raise f.fail(f"{current}[{index}]", "is not a [price, size] pair")
        pair = _Fields(f.record, {"p": level[0], "s": level[1]})
        if is_legacy:  # integer cents and integer counts (a null is neither)
            price = pair.price_value("p", level[0], legacy=True)
            size = pair.count_value("s", level[1], legacy=True)
        else:
            price, size = pair.price("p"), pair.count("s")
        levels.append((price, size))
    return tuple(levels)


def parse_book_snapshot(data: object, sid: int, seq: int | None) -> BookSnapshot:
    f = _Fields("orderbook_snapshot", data)
    return BookSnapshot(
        market_ticker=f.text("market_ticker"),
        sid=sid,
        seq=seq,
        yes=_book_side(f, "yes_dollars_fp", "yes"),
        no=_book_side(f, "no_dollars_fp", "no"),
        venue_time=_venue_time(f),
    )


# The hot path: current-era deltas whose fields are plainly valid skip the general checks
# (every string these patterns accept, the validating path accepts with the same value).
_PRICE = re.compile(r"0(?:\.\d{1,4})?|1(?:\.0{1,4})?")
_SIGNED_COUNT = re.compile(r"-?\d{1,15}(?:\.\d{1,2})?")


def _fast_decimal(value: object, pattern: re.Pattern[str]) -> Decimal | None:
    if type(value) is str and pattern.fullmatch(value) is not None:
        return Decimal(value)
    return None


def parse_book_delta(data: object, sid: int, seq: int | None) -> BookDelta:
    if type(data) is dict:
        ticker, side, ts_ms = data.get("market_ticker"), data.get("side"), data.get("ts_ms")
        price = _fast_decimal(data.get("price_dollars"), _PRICE)
        delta = _fast_decimal(data.get("delta_fp"), _SIGNED_COUNT)
        if (
            type(ticker) is str
            and side in ("yes", "no")
            and price is not None
            and delta is not None
            and type(ts_ms) is int
        ):
            venue_time = _EPOCH + dt.timedelta(milliseconds=ts_ms)
            return BookDelta(ticker, sid, seq, side, price, delta, venue_time)
    return _parse_book_delta_checked(data, sid, seq)


def _parse_book_delta_checked(data: object, sid: int, seq: int | None) -> BookDelta:
    f = _Fields("orderbook_delta", data)
    side = f.text("side")
    if side not in ("yes", "no"):
        raise f.fail("side", f"is not yes or no: {side[:10]!r}")
    return BookDelta(
        market_ticker=f.text("market_ticker"),
        sid=sid,
        seq=seq,
        side=side,
        price=f.price("price_dollars", "price"),
        delta=f.count("delta_fp", "delta", signed=True),
        venue_time=_venue_time(f),
    )


# ------------------------------------------------------------------------------- order book
class OrderBook:
    """The local book of one market: resting YES bids and NO bids, price -> size."""

    __slots__ = ("market_ticker", "no", "stale", "yes")

    def __init__(self, market_ticker: str) -> None:
        self.market_ticker = market_ticker
        self.yes: dict[Decimal, Decimal] = {}
        self.no: dict[Decimal, Decimal] = {}
        self.stale = True  # until a snapshot arrives

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        self.yes = {p: s for p, s in snapshot.yes if s > 0}
        self.no = {p: s for p, s in snapshot.no if s > 0}
        self.stale = False

    def apply_delta(self, delta: BookDelta) -> None:
        side = self.yes if delta.side == "yes" else self.no
        size = side.get(delta.price, Decimal(0)) + delta.delta
        if size > 0:
            side[delta.price] = size
        else:
            side.pop(delta.price, None)  # a level that reaches zero is gone

    def best(self, side: str) -> tuple[Decimal, Decimal] | None:
        levels = self.yes if side == "yes" else self.no
        if not levels:
            return None
        price = max(levels)
        return price, levels[price]

    def levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """The side's levels ascending by price (the REST order)."""
        book = self.yes if side == "yes" else self.no
        return sorted(book.items())

    def top(
        self, *, snapshot: bool, venue_time: dt.datetime | None, received_at: dt.datetime
    ) -> BookUpdate:
        yes, no = self.best("yes"), self.best("no")
        return BookUpdate(
            market_ticker=self.market_ticker,
            yes_bid=yes[0] if yes else None,
            yes_bid_size=yes[1] if yes else None,
            no_bid=no[0] if no else None,
            no_bid_size=no[1] if no else None,
            snapshot=snapshot,
            venue_time=venue_time,
            received_at=received_at,
        )


def error_fields(msg: Mapping[str, Any]) -> tuple[int | None, str]:
    """(code, text) of an ``error`` reply's ``msg``."""
    code = msg.get("code")
    return (code if isinstance(code, int) else None), str(msg.get("msg", ""))


__all__ = [
    "BookDelta",
    "BookSnapshot",
    "BookUpdate",
    "ConnectionChange",
    "FillEvent",
    "LifecycleEvent",
    "OrderBook",
    "ParseError",
    "StreamEvent",
    "StreamState",
    "TickerUpdate",
    "TradeEvent",
    "error_fields",
    "parse_book_delta",
    "parse_book_snapshot",
    "parse_fill_event",
    "parse_lifecycle",
    "parse_ticker",
    "parse_trade_event",
]
