"""The sandbox exchange's simulation state: series -> events -> markets, quotes that move,
trades, the market lifecycle, and one account's portfolio; plus the queries the REST API
answers (filters, cursor pagination with Kalshi's limits).

Deterministic: every random choice comes from `random.Random(seed)` and every timestamp from
the injected clock plus the simulation offset (`advance(seconds)` moves simulated time
forward without touching the wall clock the auth check uses). Thread-safe: one re-entrant
lock guards all state, so tests may drive the simulation from their own thread while the
server answers requests.

Consistency kept at every step:
- quotes derive from the two bid books: ``yes_bid < yes_ask``, ``no_bid = 1 - yes_ask``,
  ``no_ask = 1 - yes_bid``, all in [0.01, 0.99];
- lifecycle ``initialized -> active -> closed -> determined -> finalized`` driven by time;
- balance = initial deposit - (fill costs + fees) + settlement revenue, checked by
  `portfolio_problems()`; positions are signed (+ YES, - NO) and settle to zero.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from precog.sandbox import shapes
from precog.sandbox.paging import (
    LIMITS,
    SandboxRequestError,
    bad_request,
    not_found,
    page_by_key,
    page_by_seq,
    parse_bool,
    parse_int,
    parse_limit,
)
from precog.sandbox.records import (
    CENT,
    MAX_PRICE,
    MIN_PRICE,
    ONE,
    SimEvent,
    SimFill,
    SimMarket,
    SimOrder,
    SimPosition,
    SimSeries,
    SimSettlement,
    SimTrade,
    trading_fee,
)
from precog.utils.clock import Clock, SystemClock

BOOK_DEPTH = 5
HISTORY_WINDOW = dt.timedelta(days=90)
INITIAL_BALANCE = Decimal("10000.0000")
USER_ID = "00000000-0000-4000-8000-00000000beef"

MARKET_STATUSES = (
    "initialized",
    "active",
    "inactive",
    "closed",
    "determined",
    "disputed",
    "amended",
    "finalized",
)
# The `status` query filter uses a different vocabulary than `market.status` (reference A4.2).
STATUS_FILTER: dict[str, frozenset[str]] = {
    "unopened": frozenset({"initialized"}),
    "open": frozenset({"active"}),
    "paused": frozenset({"inactive"}),
    "closed": frozenset({"closed", "determined", "disputed", "amended"}),
    "settled": frozenset({"finalized"}),
}
ORDER_STATUSES = frozenset({"resting", "canceled", "executed"})

_SERIES = (
    ("KXSIMHIGH", "Simulated daily high temperature", "Climate and Weather", "daily", ["Weather"]),
    ("KXSIMNFL", "Simulated NFL game winner", "Sports", "weekly", ["Football"]),
    ("KXSIMNBA", "Simulated NBA total points", "Sports", "daily", ["Basketball"]),
    ("KXSIMCPI", "Simulated monthly CPI", "Economics", "monthly", ["Inflation"]),
    ("KXSIMRATE", "Simulated policy rate", "Financials", "custom", ["Rates"]),
)


def time_window(q: dict[str, str]) -> Callable[[dt.datetime], bool]:
    """The `min_ts` / `max_ts` query filters (unix seconds, inclusive) as a predicate."""
    min_ts, max_ts = parse_int(q.get("min_ts"), "min_ts"), parse_int(q.get("max_ts"), "max_ts")

    def in_window(when: dt.datetime) -> bool:
        ts = when.timestamp()
        return (min_ts is None or ts >= min_ts) and (max_ts is None or ts <= max_ts)

    return in_window


@dataclass(frozen=True)
class _MarketWindow:
    """One timestamp filter family of GET /markets (created, close or settled)."""

    name: str
    low: int | None
    high: int | None
    when: Callable[[SimMarket], dt.datetime | None]

    def admits(self, m: SimMarket) -> bool:
        when = self.when(m)
        if when is None:  # e.g. no settlement time yet: outside every settled window
            return False
        ts = when.timestamp()
        return (self.low is None or ts >= self.low) and (self.high is None or ts <= self.high)


# Filter family -> (timestamp of a market, statuses it combines with; None = no status).
_WINDOW_FAMILIES: dict[str, tuple[Callable[[SimMarket], dt.datetime | None], tuple[Any, ...]]] = {
    "created": (lambda m: m.created_time, (None, "unopened", "open")),
    "close": (lambda m: m.close_time, (None, "closed")),
    "settled": (lambda m: m.settlement_ts, (None, "settled")),
}


def _market_windows(q: dict[str, str], status: str | None) -> list[_MarketWindow]:
    """The timestamp filters of GET /markets, refused as Kalshi refuses them (reference
    A4.2): the created/close/settled families are mutually exclusive and each works only
    with its statuses."""
    windows = []
    for family, (when, statuses) in _WINDOW_FAMILIES.items():
        low = parse_int(q.get(f"min_{family}_ts"), f"min_{family}_ts")
        high = parse_int(q.get(f"max_{family}_ts"), f"max_{family}_ts")
        if low is None and high is None:
            continue
        if status not in statuses:
            allowed = ", ".join(s for s in statuses if s) + " or no status"
            raise bad_request(f"{family} timestamp filters work only with status {allowed}")
        windows.append(_MarketWindow(f"{family} timestamp filters", low, high, when))
    if len(windows) > 1:
        raise bad_request(
            "timestamp filter families are mutually exclusive: use one of created, close or settled"
        )
    return windows


# ------------------------------------------------------------------------------ exchange
class SandboxExchange:
    """The simulation plus the read queries of the REST API (JSON-ready dicts)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        markets: int = 50,
        clock: Clock | None = None,
        settled_fraction: float = 0.1,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self.rng = random.Random(f"exchange:{seed}")  # noqa: S311 (simulation, not crypto)
        self._lock = threading.RLock()
        self._offset = dt.timedelta(0)
        self.exchange_active = True
        self.trading_active = True
        self.series: dict[str, SimSeries] = {}
        self.events: dict[str, SimEvent] = {}
        self.markets: dict[str, SimMarket] = {}
        self._market_keys: list[str] = []
        self._event_keys: list[str] = []
        self.trades: list[SimTrade] = []
        self.orders: list[SimOrder] = []
        self.fills: list[SimFill] = []
        self.settlements: list[SimSettlement] = []
        self.positions: dict[str, SimPosition] = {}
        self.balance = INITIAL_BALANCE
        self.balance_updated = self.now()
        # Older fills and finished orders are served only by /historical/* (reference
        # A4.15); None = Kalshi's target window, HISTORY_WINDOW before simulated now.
        self.historical_cutoff: dt.datetime | None = None
        self._seq = 0
        self._event_counter = 0
        self.steps = 0
        # Called (under the lock) after every change, e.g. by the WebSocket feed.
        self.listeners: list[Callable[[], None]] = []
        self._bootstrap(markets, settled_fraction)

    # -- time ----------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """Simulated time: the clock plus everything `advance()` added."""
        return self.clock.now().astimezone(dt.UTC).replace(microsecond=0) + self._offset

    def advance(self, seconds: float, *, steps: int = 1) -> None:
        """Move simulated time forward and run `steps` simulation steps."""
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)
            self.step(steps)

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def lock(self) -> threading.RLock:
        """The state lock (re-entrant): hold it to read a consistent view across calls."""
        return self._lock

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- building the universe -------------------------------------------------------------
    def _bootstrap(self, n_markets: int, settled_fraction: float) -> None:
        now = self.now()
        for ticker, title, category, frequency, tags in _SERIES:
            self.series[ticker] = SimSeries(ticker, title, category, frequency, list(tags), now)
        n_settled = int(n_markets * settled_fraction) if n_markets >= 2 else 0
        # Markets that closed in the past: the account traded them, they settle right away.
        settled = self.add_markets(
            n_settled, close_in=(-3 * 86400, -3600), open_ago=(86400 * 4, 86400 * 5)
        )
        for ticker in settled:
            self._account_trade(
                self.markets[ticker], at=self.markets[ticker].close_time - dt.timedelta(hours=2)
            )
        self.add_markets(n_markets - n_settled)
        for _ in range(max(3, n_markets // 10)):
            active = self._active_markets()
            if active:
                self._account_trade(self.rng.choice(active), at=now - dt.timedelta(minutes=30))
        self._run_lifecycle(now)

    def add_series(self, ticker: str, title: str, category: str = "Sandbox") -> SimSeries:
        with self._lock:
            series = SimSeries(ticker, title, category, "daily", [], self.now())
            self.series[ticker] = series
            return series

    def add_markets(
        self,
        n: int,
        *,
        series_ticker: str | None = None,
        per_event: int = 5,
        close_in: tuple[int, int] = (3600, 30 * 86400),
        open_ago: tuple[int, int] = (3600, 7 * 86400),
        unopened_fraction: float = 0.05,
    ) -> list[str]:
        """Create `n` markets in new events (`per_event` per event); returns their tickers.

        `close_in` is the range of seconds from now to close_time (negative = already
        closed); `open_ago` the range of seconds before now the market opened. A fraction of
        markets (`unopened_fraction`) opens in the future (status `initialized`).
        """
        if n < 0 or per_event < 1:
            raise ValueError("n must be >= 0 and per_event >= 1")
        with self._lock:
            now = self.now()
            created: list[str] = []
            while len(created) < n:
                series = (
                    self.series[series_ticker]
                    if series_ticker
                    else self.rng.choice(sorted(self.series.values(), key=lambda s: s.ticker))
                )
                close_time = now + dt.timedelta(seconds=self.rng.randint(*close_in))
                self._event_counter += 1
                date = close_time.strftime("%y%b%d").upper()
                event_ticker = f"{series.ticker}-{date}E{self._event_counter:05d}"
                event = SimEvent(
                    event_ticker=event_ticker,
                    series_ticker=series.ticker,
                    title=f"{series.title} #{self._event_counter}",
                    sub_title=close_time.strftime("On %b %d, %Y"),
                    category=series.category,
                    strike_date=close_time,
                    last_updated=now,
                )
                self.events[event_ticker] = event
                bisect.insort(self._event_keys, event_ticker)
                for k in range(min(per_event, n - len(created))):
                    strike = 40 + 5 * k
                    unopened = self.rng.random() < unopened_fraction and close_in[0] > 0
                    open_time = (
                        now + dt.timedelta(seconds=self.rng.randint(60, 3600))
                        if unopened
                        else now - dt.timedelta(seconds=self.rng.randint(*open_ago))
                    )
                    market = self._new_market(event, strike, open_time, close_time, now)
                    event.market_tickers.append(market.ticker)
                    self.markets[market.ticker] = market
                    bisect.insort(self._market_keys, market.ticker)
                    created.append(market.ticker)
            self._changed()
            return created

    def _new_market(
        self,
        event: SimEvent,
        strike: int,
        open_time: dt.datetime,
        close_time: dt.datetime,
        now: dt.datetime,
    ) -> SimMarket:
        spread = CENT * self.rng.randint(1, 4)
        yes_bid = CENT * self.rng.randint(1, 99 - int(spread / CENT))
        market = SimMarket(
            ticker=f"{event.event_ticker}-T{strike}",
            event_ticker=event.event_ticker,
            series_ticker=event.series_ticker,
            title=f"{event.title}: above {strike}?",
            yes_sub_title=f"Above {strike}",
            no_sub_title=f"{strike} or below",
            floor_strike=strike,
            created_time=min(open_time, now) - dt.timedelta(hours=1),
            open_time=open_time,
            close_time=close_time,
            status="initialized" if open_time > now else "active",
            yes_bid=yes_bid,
            spread=spread,
            yes_sizes=self._sizes(),
            no_sizes=self._sizes(),
            last_price=yes_bid + CENT * self.rng.randint(0, int(spread / CENT)),
            updated_time=min(open_time, now) - dt.timedelta(hours=1),
        )
        market.volume = Decimal(self.rng.randint(0, 50000))
        market.volume_24h = (market.volume * Decimal(self.rng.randint(0, 20)) / 100).quantize(ONE)
        market.open_interest = (market.volume * Decimal(self.rng.randint(10, 60)) / 100).quantize(
            ONE
        )
        market.previous_yes_bid = yes_bid
        market.previous_yes_ask = market.yes_ask
        market.previous_price = market.last_price
        return market

    def _sizes(self) -> list[Decimal]:
        return [Decimal(self.rng.randint(1, 500)) for _ in range(BOOK_DEPTH)]

    def _active_markets(self) -> list[SimMarket]:
        return [self.markets[t] for t in self._market_keys if self.markets[t].status == "active"]

    # -- simulation --------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Run `n` simulation steps at the current simulated time."""
        with self._lock:
            for _ in range(n):
                now = self.now()
                self._run_lifecycle(now)
                for ticker in self._market_keys:
                    market = self.markets[ticker]
                    if market.status == "active":
                        self._move(market, now)
                active = self._active_markets()
                if active and self.rng.random() < 0.3:
                    self._account_trade(self.rng.choice(active), at=now)
                self.steps += 1
                self._changed()

    def _move(self, m: SimMarket, now: dt.datetime) -> None:
        draw = self.rng.random()
        if draw < 0.5:
            spread = CENT * self.rng.randint(1, 4)
            bid = m.yes_bid + CENT * self.rng.choice((-1, 1))
            m.spread = spread
            m.yes_bid = min(max(bid, MIN_PRICE), MAX_PRICE - spread)
            m.yes_sizes = self._sizes()
            m.no_sizes = self._sizes()
        if self.rng.random() < 0.3:
            taker = self.rng.choice(("yes", "no"))
            size = Decimal(self.rng.randint(1, 50))
            price = m.yes_ask if taker == "yes" else m.yes_bid
            self.trades.append(
                SimTrade(self._next_seq(), self._uuid(), m.ticker, size, price, taker, now)
            )
            m.last_price = price
            m.volume += size
            m.volume_24h += size
            m.open_interest += size

    def _account_trade(self, m: SimMarket, *, at: dt.datetime) -> None:
        """The account buys at the touch on the side it already holds (or any side if flat)."""
        held = self.positions.get(m.ticker)
        if held is not None and held.position != 0:
            side = "yes" if held.position > 0 else "no"
        else:
            side = self.rng.choice(("yes", "no"))
        size = Decimal(self.rng.randint(1, 25))
        yes_price = m.yes_ask if side == "yes" else m.yes_bid
        paid = yes_price if side == "yes" else ONE - yes_price
        fee = trading_fee(size, paid)
        order = SimOrder(
            seq=self._next_seq(),
            order_id=self._uuid(),
            client_order_id=self._uuid(),
            user_id=USER_ID,
            ticker=m.ticker,
            event_ticker=m.event_ticker,
            side=side,
            yes_price=yes_price,
            initial_count=size,
            remaining_count=Decimal(0),
            status="executed",
            fill_cost=size * paid,
            fees=fee,
            created_time=at,
            last_update_time=at,
        )
        self.orders.append(order)
        fill = SimFill(
            self._next_seq(), self._uuid(), order.order_id, m.ticker, side, size, yes_price, fee, at
        )
        self.fills.append(fill)
        self.balance -= fill.cost + fee
        self.balance_updated = at
        position = self.positions.setdefault(
            m.ticker,
            SimPosition(
                m.ticker,
                m.event_ticker,
                Decimal(0),
                Decimal(0),
                Decimal(0),
                Decimal(0),
                Decimal(0),
                at,
            ),
        )
        position.position += size if side == "yes" else -size
        position.total_traded += fill.cost
        position.exposure += fill.cost
        position.fees_paid += fee
        position.last_updated = at
        if self.rng.random() < 0.5:  # leave a resting bid one cent below the fill
            rest_price = (
                max(MIN_PRICE, yes_price - CENT)
                if side == "yes"
                else min(MAX_PRICE, yes_price + CENT)
            )
            count = Decimal(self.rng.randint(1, 10))
            self.orders.append(
                SimOrder(
                    seq=self._next_seq(),
                    order_id=self._uuid(),
                    client_order_id=self._uuid(),
                    user_id=USER_ID,
                    ticker=m.ticker,
                    event_ticker=m.event_ticker,
                    side=side,
                    yes_price=rest_price,
                    initial_count=count,
                    remaining_count=count,
                    status="resting",
                    fill_cost=Decimal(0),
                    fees=Decimal(0),
                    created_time=at,
                    last_update_time=at,
                )
            )

    def _run_lifecycle(self, now: dt.datetime) -> None:
        for ticker in self._market_keys:
            m = self.markets[ticker]
            if m.status == "initialized" and now >= m.open_time:
                m.status = "active"
                m.updated_time = now
            if m.status in ("active", "inactive") and now >= m.close_time:
                m.status = "closed"
                m.updated_time = max(now, m.close_time)
                self._cancel_resting(m, now)
            timer = dt.timedelta(seconds=m.settlement_timer_seconds)
            if m.status == "closed" and now >= m.close_time + timer:
                mid = (m.yes_bid + m.yes_ask) / 2
                m.result = "yes" if Decimal(str(self.rng.random())) < mid else "no"
                m.settlement_value = ONE if m.result == "yes" else Decimal(0)
                m.status = "determined"
                m.determined_time = m.close_time + timer
                m.updated_time = m.determined_time
            if (
                m.status == "determined"
                and m.determined_time is not None
                and now >= m.determined_time + timer
            ):
                m.status = "finalized"
                m.settlement_ts = m.determined_time + timer
                m.updated_time = m.settlement_ts
                self._settle(m)

    def _cancel_resting(self, m: SimMarket, now: dt.datetime) -> None:
        for order in self.orders:
            if order.ticker == m.ticker and order.status == "resting":
                order.status = "canceled"
                order.remaining_count = Decimal(0)
                order.last_update_time = now

    def _settle(self, m: SimMarket) -> None:
        assert m.settlement_ts is not None
        position = self.positions.get(m.ticker)
        if position is None or position.settled:
            return
        yes_count = max(position.position, Decimal(0))
        no_count = max(-position.position, Decimal(0))
        winners = yes_count if m.result == "yes" else no_count
        revenue = winners * ONE
        self.settlements.append(
            SimSettlement(
                seq=self._next_seq(),
                ticker=m.ticker,
                event_ticker=m.event_ticker,
                market_result=m.result,
                yes_count=yes_count,
                yes_total_cost=position.exposure if yes_count else Decimal(0),
                no_count=no_count,
                no_total_cost=position.exposure if no_count else Decimal(0),
                revenue_cents=shapes.cents(revenue),
                settled_time=m.settlement_ts,
            )
        )
        self.balance += revenue
        self.balance_updated = m.settlement_ts
        position.realized_pnl += revenue - position.exposure
        position.position = Decimal(0)
        position.exposure = Decimal(0)
        position.settled = True
        position.last_updated = m.settlement_ts

    # -- admin helpers -------------------------------------------------------------------------
    def set_exchange_status(self, *, exchange_active: bool, trading_active: bool) -> None:
        with self._lock:
            self.exchange_active = exchange_active
            self.trading_active = trading_active

    def close_market(self, ticker: str) -> None:
        """Close a market now (it then determines and settles as time passes)."""
        with self._lock:
            m = self._market(ticker)
            m.close_time = min(m.close_time, self.now())
            self._run_lifecycle(self.now())
            self._changed()

    def settle_market(self, ticker: str) -> None:
        """Close, determine and finalize a market immediately (moves simulated time)."""
        with self._lock:
            m = self._market(ticker)
            self.close_market(ticker)
            needed = (
                m.close_time + dt.timedelta(seconds=2 * m.settlement_timer_seconds) - self.now()
            )
            if needed > dt.timedelta(0):
                self._offset += needed
            self._run_lifecycle(self.now())
            self._changed()

    def portfolio_problems(self) -> list[str]:
        """Broken invariants of the account (empty when consistent)."""
        with self._lock:
            problems = []
            paid = sum((f.cost + f.fee for f in self.fills), Decimal(0))
            revenue = sum((Decimal(s.revenue_cents) / 100 for s in self.settlements), Decimal(0))
            if self.balance != INITIAL_BALANCE - paid + revenue:
                problems.append(f"balance {self.balance} != deposit - paid + revenue")
            for ticker, p in self.positions.items():
                fills = [f for f in self.fills if f.ticker == ticker]
                signed = sum((f.count if f.side == "yes" else -f.count for f in fills), Decimal(0))
                if not p.settled and p.position != signed:
                    problems.append(f"{ticker}: position {p.position} != fills {signed}")
                if p.settled and p.position != 0:
                    problems.append(f"{ticker}: settled position not zero")
            for m in self.markets.values():
                if not (MIN_PRICE <= m.yes_bid < m.yes_ask <= MAX_PRICE):
                    problems.append(f"{m.ticker}: bad quote {m.yes_bid}/{m.yes_ask}")
            return problems

    # -- queries (JSON-ready) --------------------------------------------------------------------
    def _market(self, ticker: str) -> SimMarket:
        market = self.markets.get(ticker)
        if market is None:
            raise not_found(f"market {ticker} not found")
        return market

    def exchange_status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "exchange_active": self.exchange_active,
                "trading_active": self.trading_active,
                "exchange_estimated_resume_time": None,
                "intra_exchange_transfers_active": self.exchange_active,
            }

    def list_markets(self, q: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "markets")
        status = q.get("status") or None
        if status is not None and status not in STATUS_FILTER:
            raise bad_request(f"status must be one of {', '.join(STATUS_FILTER)}, got {status!r}")
        windows = _market_windows(q, status)
        min_updated = parse_int(q.get("min_updated_ts"), "min_updated_ts")
        mve = q.get("mve_filter") or None
        if mve is not None and mve not in ("only", "exclude"):
            raise bad_request(f"mve_filter must be only or exclude, got {mve!r}")
        event = q.get("event_ticker") or None
        if event is not None and "," in event:
            raise bad_request("event_ticker takes a single event ticker")
        series = q.get("series_ticker") or None
        tickers = {t for t in (q.get("tickers") or "").split(",") if t} or None
        if min_updated is not None:
            # Kalshi: min_updated_ts combines only with mve_filter=exclude and series_ticker.
            others = [
                name
                for name, value in (
                    ("status", status),
                    ("event_ticker", event),
                    ("tickers", tickers),
                    ("mve_filter=only", mve == "only" or None),
                    *((w.name, w) for w in windows),
                )
                if value is not None
            ]
            if others:
                raise bad_request(
                    "min_updated_ts can only be combined with mve_filter=exclude and "
                    f"series_ticker, not {', '.join(others)}"
                )
        allowed = STATUS_FILTER[status] if status else None

        def keep(ticker: str) -> bool:
            m = self.markets[ticker]
            return not (
                (allowed is not None and m.status not in allowed)
                or (event is not None and m.event_ticker != event)
                or (series is not None and m.series_ticker != series)
                or (tickers is not None and ticker not in tickers)
                or (mve == "only" and m.mve_collection_ticker is None)
                or (mve == "exclude" and m.mve_collection_ticker is not None)
                or (min_updated is not None and m.updated_time.timestamp() < min_updated)
                or not all(w.admits(m) for w in windows)
            )

        with self._lock:
            page, cursor = page_by_key(self._market_keys, "m", q.get("cursor"), limit, keep)
            return {
                "markets": [shapes.market_json(self.markets[t]) for t in page],
                "cursor": cursor,
            }

    def get_market(self, ticker: str) -> dict[str, Any]:
        with self._lock:
            return {"market": shapes.market_json(self._market(ticker))}

    def orderbook(self, ticker: str, q: dict[str, str]) -> dict[str, Any]:
        depth = parse_int(q.get("depth"), "depth") or 0
        if depth > 100:
            raise bad_request(f"depth must be between 0 and 100, got {depth}")
        with self._lock:
            return shapes.orderbook_json(self._market(ticker), depth)

    def list_trades(self, q: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "trades")
        ticker = q.get("ticker") or None
        in_window = time_window(q)

        def keep(t: SimTrade) -> bool:
            return not (
                (ticker is not None and t.ticker != ticker) or not in_window(t.created_time)
            )

        with self._lock:
            page, cursor = page_by_seq(self.trades, "t", q.get("cursor"), limit, keep)
            return {"trades": [shapes.trade_json(t) for t in page], "cursor": cursor}

    def _event_matches_status(self, event: SimEvent, allowed: frozenset[str]) -> bool:
        return any(self.markets[t].status in allowed for t in event.market_tickers)

    def list_events(self, q: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "events")
        nested = parse_bool(q.get("with_nested_markets"), "with_nested_markets")
        status = q.get("status") or None
        if status is not None and status not in ("unopened", "open", "closed", "settled"):
            raise bad_request(
                f"status must be one of unopened, open, closed, settled, got {status!r}"
            )
        series = q.get("series_ticker") or None
        tickers = {t for t in (q.get("tickers") or "").split(",") if t} or None
        min_close = parse_int(q.get("min_close_ts"), "min_close_ts")

        def keep(event_ticker: str) -> bool:
            e = self.events[event_ticker]
            return not (
                (status is not None and not self._event_matches_status(e, STATUS_FILTER[status]))
                or (series is not None and e.series_ticker != series)
                or (tickers is not None and event_ticker not in tickers)
                or (
                    min_close is not None
                    and all(
                        self.markets[t].close_time.timestamp() < min_close for t in e.market_tickers
                    )
                )
            )

        with self._lock:
            page, cursor = page_by_key(self._event_keys, "e", q.get("cursor"), limit, keep)
            events = [
                shapes.event_json(
                    self.events[t],
                    [self.markets[m] for m in self.events[t].market_tickers] if nested else None,
                )
                for t in page
            ]
            return {"events": events, "cursor": cursor}

    def get_event(self, event_ticker: str, q: dict[str, str]) -> dict[str, Any]:
        nested = parse_bool(q.get("with_nested_markets"), "with_nested_markets")
        with self._lock:
            event = self.events.get(event_ticker)
            if event is None:
                raise not_found(f"event {event_ticker} not found")
            markets = [self.markets[t] for t in event.market_tickers]
            return {
                "event": shapes.event_json(event, markets if nested else None),
                "markets": [shapes.market_json(m) for m in markets],
            }

    def get_series(self, series_ticker: str) -> dict[str, Any]:
        with self._lock:
            series = self.series.get(series_ticker)
            if series is None:
                raise not_found(f"series {series_ticker} not found")
            return {"series": shapes.series_json(series)}

    def list_series(self, q: dict[str, str]) -> dict[str, Any]:
        category = q.get("category") or None
        tags = {t for t in (q.get("tags") or "").split(",") if t}
        with self._lock:
            found = [
                shapes.series_json(s)
                for _, s in sorted(self.series.items())
                if (category is None or s.category == category) and (not tags or tags & set(s.tags))
            ]
            return {"series": found}

    # -- portfolio -------------------------------------------------------------------------------
    def portfolio_value(self) -> Decimal:
        """Market value of open positions, marked at the bid of the held side."""
        value = Decimal(0)
        for p in self.positions.values():
            if p.position > 0:
                value += p.position * self.markets[p.ticker].yes_bid
            elif p.position < 0:
                value += -p.position * self.markets[p.ticker].no_bid
        return value

    def balance_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "balance": shapes.cents(self.balance),
                "balance_dollars": shapes.dollars(self.balance),
                "portfolio_value": shapes.cents(self.portfolio_value()),
                "updated_ts": int(self.balance_updated.timestamp()),
            }

    def list_positions(self, q: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "positions")
        ticker = q.get("ticker") or None
        event = q.get("event_ticker") or None
        settlement_status = q.get("settlement_status") or "unsettled"
        if settlement_status not in ("unsettled", "settled", "all"):
            raise bad_request(
                f"settlement_status must be unsettled, settled or all, got {settlement_status!r}"
            )
        filters = {f for f in (q.get("count_filter") or "").split(",") if f}
        if filters - {"position", "total_traded"}:
            raise bad_request("count_filter takes position and/or total_traded")

        def keep(key: str) -> bool:
            p = self.positions[key]
            return not (
                (ticker is not None and p.ticker != ticker)
                or (event is not None and p.event_ticker != event)
                or (settlement_status == "unsettled" and p.settled)
                or (settlement_status == "settled" and not p.settled)
                or ("position" in filters and p.position == 0)
                or ("total_traded" in filters and p.total_traded == 0)
            )

        with self._lock:
            page, cursor = page_by_key(sorted(self.positions), "p", q.get("cursor"), limit, keep)
            positions = [self.positions[k] for k in page]
            by_event: dict[str, list[SimPosition]] = {}
            for p in positions:
                by_event.setdefault(p.event_ticker, []).append(p)
            return {
                "market_positions": [shapes.market_position_json(p) for p in positions],
                "event_positions": [
                    shapes.event_position_json(e, ps) for e, ps in sorted(by_event.items())
                ],
                "cursor": cursor,
            }

    # -- history ---------------------------------------------------------------------------
    def cutoff(self) -> dt.datetime:
        """The live/historical boundary for fills and finished orders."""
        with self._lock:
            if self.historical_cutoff is not None:
                return self.historical_cutoff
            return self.now() - HISTORY_WINDOW

    def set_historical_cutoff(self, when: dt.datetime | None) -> None:
        """Move the cutoff (None: back to HISTORY_WINDOW before simulated now)."""
        with self._lock:
            self.historical_cutoff = when

    def historical_cutoff_json(self) -> dict[str, Any]:
        when = shapes.timestamp(self.cutoff())
        return {"market_settled_ts": when, "trades_created_ts": when, "orders_updated_ts": when}

    def _order_is_historical(self, o: SimOrder, cutoff: dt.datetime) -> bool:
        # Resting orders always stay live; finished ones move by their last update.
        return o.status != "resting" and o.last_update_time < cutoff

    def list_fills(self, q: dict[str, str], *, historical: bool = False) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "historical_fills" if historical else "fills")
        ticker, order_id = q.get("ticker") or None, q.get("order_id") or None
        in_window = time_window(q)
        cutoff = self.cutoff()

        def keep(f: SimFill) -> bool:
            return not (
                (ticker is not None and f.ticker != ticker)
                or (order_id is not None and f.order_id != order_id)
                or not in_window(f.created_time)
                or (f.created_time < cutoff) is not historical
            )

        with self._lock:
            page, cursor = page_by_seq(self.fills, "f", q.get("cursor"), limit, keep)
            return {"fills": [shapes.fill_json(f) for f in page], "cursor": cursor}

    def list_settlements(self, q: dict[str, str]) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "settlements")
        ticker, event = q.get("ticker") or None, q.get("event_ticker") or None
        in_window = time_window(q)

        def keep(s: SimSettlement) -> bool:
            return not (
                (ticker is not None and s.ticker != ticker)
                or (event is not None and s.event_ticker != event)
                or not in_window(s.settled_time)
            )

        with self._lock:
            page, cursor = page_by_seq(self.settlements, "s", q.get("cursor"), limit, keep)
            return {"settlements": [shapes.settlement_json(s) for s in page], "cursor": cursor}

    def list_orders(self, q: dict[str, str], *, historical: bool = False) -> dict[str, Any]:
        limit = parse_limit(q.get("limit"), "historical_orders" if historical else "orders")
        cutoff = self.cutoff()
        ticker = q.get("ticker") or None
        events = {e for e in (q.get("event_ticker") or "").split(",") if e} or None
        if events is not None and len(events) > 10:
            raise bad_request("event_ticker takes at most 10 event tickers")
        status = q.get("status") or None
        if status is not None and status not in ORDER_STATUSES:
            raise bad_request(f"status must be one of resting, canceled, executed, got {status!r}")
        in_window = time_window(q)

        def keep(o: SimOrder) -> bool:
            return not (
                (ticker is not None and o.ticker != ticker)
                or (events is not None and o.event_ticker not in events)
                or (status is not None and o.status != status)
                or not in_window(o.created_time)
                or self._order_is_historical(o, cutoff) is not historical
            )

        with self._lock:
            page, cursor = page_by_seq(self.orders, "o", q.get("cursor"), limit, keep)
            return {"orders": [shapes.order_json(o) for o in page], "cursor": cursor}

    def get_order(self, order_id: str) -> dict[str, Any]:
        with self._lock:
            for order in self.orders:
                if order.order_id == order_id:
                    return {"order": shapes.order_json(order)}
            raise not_found(f"order {order_id} not found")

    def snapshot(self) -> dict[str, Any]:
        """Everything observable, for determinism checks."""
        with self._lock:
            return {
                "markets": [shapes.market_json(self.markets[t]) for t in self._market_keys],
                "trades": [shapes.trade_json(t) for t in self.trades],
                "fills": [shapes.fill_json(f) for f in self.fills],
                "settlements": [shapes.settlement_json(s) for s in self.settlements],
                "balance": shapes.dollars(self.balance),
            }

    def market_tickers(self, statuses: Iterable[str] | None = None) -> list[str]:
        with self._lock:
            wanted = set(statuses) if statuses is not None else None
            return [
                t for t in self._market_keys if wanted is None or self.markets[t].status in wanted
            ]


__all__ = [
    "LIMITS",
    "MARKET_STATUSES",
    "STATUS_FILTER",
    "SandboxExchange",
    "SandboxRequestError",
    "SimMarket",
    "trading_fee",
]
