"""What the sandbox's WebSocket channels say: changes of the simulation as Kalshi messages.

`StreamFeed.changes()` runs under the exchange lock right after each simulation change and
compares the markets with the view it published last: changed book levels become
`orderbook_delta` updates, changed quotes a `ticker` update, new trades and fills their
messages, status changes `market_lifecycle_v2` events. So the socket says exactly what REST
serves at the same instant (both read the same records), and every batch carries the
exchange `version` it describes (a snapshot taken at version v is followed only by batches
newer than v).

`history` is the record of the market states the feed saw (bounded): every market's state
when the feed started (version 0), then each change, for tests that compare a database
with the truth. Payloads are pre-serialised JSON (``body``) so that fanning a
message out to many subscribers only formats the envelope.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from precog.sandbox import shapes
from precog.sandbox.exchange import SandboxExchange
from precog.sandbox.records import ONE, SimFill, SimMarket, SimTrade

Level = dict[Decimal, Decimal]
_DETERMINED = frozenset({"determined", "disputed", "amended", "finalized"})


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Update:
    """One message for one market: `channel` it belongs to, wire `type`, JSON `body`."""

    channel: str
    kind: str
    ticker: str
    body: str


@dataclass(frozen=True, slots=True)
class Batch:
    version: int
    updates: tuple[Update, ...]


@dataclass(frozen=True, slots=True)
class MarketState:
    """The quote of one market as the feed published it (the truth for comparisons)."""

    version: int
    at: dt.datetime
    ticker: str
    status: str
    yes_bid: Decimal
    yes_ask: Decimal
    last_price: Decimal
    volume: Decimal
    open_interest: Decimal


@dataclass(slots=True)
class _View:
    yes: Level
    no: Level
    quote: tuple[Decimal, ...]
    status: str
    close_time: dt.datetime


def _quote(m: SimMarket) -> tuple[Decimal, ...]:
    return (
        m.yes_bid,
        m.yes_ask,
        m.last_price,
        m.yes_sizes[0],
        m.no_sizes[0],
        m.volume,
        m.open_interest,
    )


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp()) * 1000


class StreamFeed:
    """Turns simulation changes into channel updates (call `changes()` under the lock)."""

    def __init__(self, exchange: SandboxExchange, *, history: int = 200_000) -> None:
        self.exchange = exchange
        self.version = 0
        self._views: dict[str, _View] = {}
        self._trades_seen = len(exchange.trades)
        self._fills_seen = len(exchange.fills)
        self.history: deque[MarketState] = deque(maxlen=history)
        with exchange.lock():
            now = exchange.now()
            for ticker in exchange.market_tickers():
                self._views[ticker] = self._view(exchange.markets[ticker])
                self._record(exchange.markets[ticker], now)  # version 0: the starting state

    @staticmethod
    def _view(m: SimMarket) -> _View:
        return _View(dict(m.yes_levels()), dict(m.no_levels()), _quote(m), m.status, m.close_time)

    # -- messages of one market (also used for snapshots) ---------------------------------
    def snapshot_body(self, ticker: str) -> str:
        m = self.exchange.markets[ticker]
        body: dict[str, Any] = {"market_ticker": ticker, "market_id": _market_id(ticker)}
        yes = [[shapes.dollars(p), shapes.count(s)] for p, s in reversed(m.yes_levels())]
        no = [[shapes.dollars(p), shapes.count(s)] for p, s in reversed(m.no_levels())]
        if yes:  # a side without bids is omitted (reference A7.7)
            body["yes_dollars_fp"] = yes
        if no:
            body["no_dollars_fp"] = no
        return _dumps(body)

    def ticker_body(self, ticker: str) -> str:
        m = self.exchange.markets[ticker]
        now = self.exchange.now()
        return _dumps(
            {
                "market_ticker": ticker,
                "market_id": _market_id(ticker),
                "price_dollars": shapes.dollars(m.last_price),
                "yes_bid_dollars": shapes.dollars(m.yes_bid),
                "yes_ask_dollars": shapes.dollars(m.yes_ask),
                "yes_bid_size_fp": shapes.count(m.yes_sizes[0]),
                "yes_ask_size_fp": shapes.count(m.no_sizes[0]),
                "volume_fp": shapes.count(m.volume),
                "open_interest_fp": shapes.count(m.open_interest),
                "dollar_volume": int(m.volume * m.last_price),
                "dollar_open_interest": int(m.open_interest * m.last_price),
                "ts": int(now.timestamp()),
                "ts_ms": _ms(now),
                "time": shapes.timestamp(now),
            }
        )

    # -- the diff ----------------------------------------------------------------------------
    def changes(self) -> Batch:
        ex = self.exchange
        self.version += 1
        now = ex.now()
        out: list[Update] = []
        for ticker in ex.market_tickers():
            m = ex.markets[ticker]
            view = self._views.get(ticker)
            if view is None:
                view = self._views[ticker] = self._view(m)
                out.append(self._lifecycle(m, "created"))
                self._record(m, now)
                continue
            self._book_deltas(m, view, now, out)
            quote = _quote(m)
            if quote != view.quote:
                view.quote = quote
                out.append(Update("ticker", "ticker", ticker, self.ticker_body(ticker)))
                self._record(m, now)
            if m.close_time != view.close_time:
                view.close_time = m.close_time
                out.append(self._lifecycle(m, "close_date_updated"))
            if m.status != view.status:
                # One step can go closed -> determined -> finalized: announce each stage.
                if m.status in _DETERMINED and view.status not in _DETERMINED:
                    out.append(self._lifecycle(m, "determined"))
                if m.status == "finalized":
                    out.append(self._lifecycle(m, "settled"))
                view.status = m.status
                self._record(m, now)
        for trade in ex.trades[self._trades_seen :]:
            out.append(Update("trade", "trade", trade.ticker, _trade_body(trade)))
        self._trades_seen = len(ex.trades)
        for fill in ex.fills[self._fills_seen :]:
            out.append(Update("fill", "fill", fill.ticker, _fill_body(fill, ex)))
        self._fills_seen = len(ex.fills)
        return Batch(self.version, tuple(out))

    def _book_deltas(self, m: SimMarket, view: _View, now: dt.datetime, out: list[Update]) -> None:
        for side, new in (("yes", dict(m.yes_levels())), ("no", dict(m.no_levels()))):
            old = view.yes if side == "yes" else view.no
            if new == old:
                continue
            for price in sorted(old.keys() | new.keys()):
                change = new.get(price, Decimal(0)) - old.get(price, Decimal(0))
                if change:
                    body = {
                        "market_ticker": m.ticker,
                        "market_id": _market_id(m.ticker),
                        "price_dollars": shapes.dollars(price),
                        "delta_fp": shapes.count(change),
                        "side": side,
                        "ts_ms": _ms(now),
                    }
                    out.append(Update("orderbook_delta", "orderbook_delta", m.ticker, _dumps(body)))
            if side == "yes":
                view.yes = new
            else:
                view.no = new

    def _lifecycle(self, m: SimMarket, event_type: str) -> Update:
        body: dict[str, Any] = {"market_ticker": m.ticker, "event_type": event_type}
        if event_type == "created":
            body |= {"open_ts": int(m.open_time.timestamp()), "close_ts": _ts(m.close_time)}
        elif event_type == "close_date_updated":
            body["close_ts"] = _ts(m.close_time)
        elif event_type == "determined":
            body |= {
                "result": m.result,
                "determination_ts": _ts(m.determined_time or m.close_time),
                "settlement_value": shapes.dollars(m.settlement_value or Decimal(0)),
            }
        elif event_type == "settled":
            body["settled_ts"] = _ts(m.settlement_ts or m.close_time)
        return Update("market_lifecycle_v2", "market_lifecycle_v2", m.ticker, _dumps(body))

    def _record(self, m: SimMarket, now: dt.datetime) -> None:
        self.history.append(
            MarketState(
                self.version,
                now,
                m.ticker,
                m.status,
                m.yes_bid,
                m.yes_ask,
                m.last_price,
                m.volume,
                m.open_interest,
            )
        )


def _ts(when: dt.datetime) -> int:
    return int(when.timestamp())


def _market_id(ticker: str) -> str:
    # Stable per ticker; the simulation has no market ids of its own.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "precog-sandbox:" + ticker))


def _trade_body(t: SimTrade) -> str:
    return _dumps(
        {
            "trade_id": t.trade_id,
            "market_ticker": t.ticker,
            "yes_price_dollars": shapes.dollars(t.yes_price),
            "no_price_dollars": shapes.dollars(ONE - t.yes_price),
            "count_fp": shapes.count(t.count),
            "taker_side": t.taker_side,
            "taker_outcome_side": t.taker_side,
            "taker_book_side": "bid" if t.taker_side == "yes" else "ask",
            "is_block_trade": False,
            "ts": _ts(t.created_time),
            "ts_ms": _ms(t.created_time),
        }
    )


def _fill_body(f: SimFill, ex: SandboxExchange) -> str:
    position = ex.positions.get(f.ticker)
    return _dumps(
        {
            "trade_id": f.fill_id,
            "order_id": f.order_id,
            "market_ticker": f.ticker,
            "exchange_index": 0,
            "is_taker": True,
            "side": f.side,
            "action": "buy",
            "purchased_side": f.side,
            "outcome_side": f.side,
            "book_side": "bid" if f.side == "yes" else "ask",
            "yes_price_dollars": shapes.dollars(f.yes_price),
            "count_fp": shapes.count(f.count),
            "fee_cost": shapes.dollars(f.fee),
            "post_position_fp": shapes.count(position.position if position else Decimal(0)),
            "subaccount": 0,
            "ts": _ts(f.created_time),
            "ts_ms": _ms(f.created_time),
        }
    )


__all__ = ["Batch", "MarketState", "StreamFeed", "Update"]
