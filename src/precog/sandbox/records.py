"""Records of the sandbox simulation (mutable state owned by `SandboxExchange`) and the
fee rule. Money and counts are `Decimal`; times are aware UTC datetimes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

CENT = Decimal("0.01")
ONE = Decimal(1)
MIN_PRICE = Decimal("0.01")
MAX_PRICE = Decimal("0.99")
FEE_RATE = Decimal("0.07")


@dataclass
class SimSeries:
    ticker: str
    title: str
    category: str
    frequency: str
    tags: list[str]
    last_updated: dt.datetime


@dataclass
class SimEvent:
    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    category: str
    strike_date: dt.datetime
    last_updated: dt.datetime
    market_tickers: list[str] = field(default_factory=list)


@dataclass
class SimMarket:
    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    floor_strike: int
    created_time: dt.datetime
    open_time: dt.datetime
    close_time: dt.datetime
    status: str
    yes_bid: Decimal
    spread: Decimal
    yes_sizes: list[Decimal]
    no_sizes: list[Decimal]
    last_price: Decimal
    updated_time: dt.datetime
    settlement_timer_seconds: int = 300
    volume: Decimal = Decimal(0)
    volume_24h: Decimal = Decimal(0)
    open_interest: Decimal = Decimal(0)
    previous_yes_bid: Decimal = Decimal(0)
    previous_yes_ask: Decimal = Decimal(0)
    previous_price: Decimal = Decimal(0)
    result: str = ""
    settlement_value: Decimal | None = None
    settlement_ts: dt.datetime | None = None
    determined_time: dt.datetime | None = None
    mve_collection_ticker: str | None = None  # set on multivariate (combo) markets

    @property
    def yes_ask(self) -> Decimal:
        return self.yes_bid + self.spread

    @property
    def no_bid(self) -> Decimal:
        return ONE - self.yes_ask

    @property
    def no_ask(self) -> Decimal:
        return ONE - self.yes_bid

    def yes_levels(self) -> list[tuple[Decimal, Decimal]]:
        """YES bids, best first."""
        return _levels(self.yes_bid, self.yes_sizes)

    def no_levels(self) -> list[tuple[Decimal, Decimal]]:
        """NO bids, best first (best NO bid = 1 - yes_ask)."""
        return _levels(self.no_bid, self.no_sizes)


def _levels(best: Decimal, sizes: list[Decimal]) -> list[tuple[Decimal, Decimal]]:
    out = []
    for k, size in enumerate(sizes):
        price = best - CENT * k
        if price < MIN_PRICE:
            break
        out.append((price, size))
    return out


@dataclass
class SimTrade:
    seq: int
    trade_id: str
    ticker: str
    count: Decimal
    yes_price: Decimal
    taker_side: str
    created_time: dt.datetime


@dataclass
class SimOrder:
    seq: int
    order_id: str
    client_order_id: str
    user_id: str
    ticker: str
    event_ticker: str
    side: str
    yes_price: Decimal
    initial_count: Decimal
    remaining_count: Decimal
    status: str
    fill_cost: Decimal
    fees: Decimal
    created_time: dt.datetime
    last_update_time: dt.datetime


@dataclass
class SimFill:
    seq: int
    fill_id: str
    order_id: str
    ticker: str
    side: str
    count: Decimal
    yes_price: Decimal
    fee: Decimal
    created_time: dt.datetime

    @property
    def cost(self) -> Decimal:
        """What the account paid for the contracts (fees separate)."""
        return self.count * (self.yes_price if self.side == "yes" else ONE - self.yes_price)


@dataclass
class SimPosition:
    ticker: str
    event_ticker: str
    position: Decimal  # + YES contracts, - NO contracts
    total_traded: Decimal
    exposure: Decimal  # cost of the contracts still held
    realized_pnl: Decimal
    fees_paid: Decimal
    last_updated: dt.datetime
    settled: bool = False


@dataclass
class SimSettlement:
    seq: int
    ticker: str
    event_ticker: str
    market_result: str
    yes_count: Decimal
    yes_total_cost: Decimal
    no_count: Decimal
    no_total_cost: Decimal
    revenue_cents: int
    settled_time: dt.datetime


def trading_fee(contracts: Decimal, price: Decimal) -> Decimal:
    """Kalshi's taker fee: 0.07 * C * P * (1 - P), rounded up to the cent."""
    raw = FEE_RATE * contracts * price * (ONE - price)
    return (raw / CENT).to_integral_value(rounding=ROUND_CEILING) * CENT
