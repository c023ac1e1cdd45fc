"""Sandbox exchange simulation: determinism, quote consistency, lifecycle, portfolio
bookkeeping, query validation and cursor pagination (no sockets: the exchange object only).

The sandbox is not one of the eleven modules, so these tests declare none."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from precog.sandbox.exchange import (
    MARKET_STATUSES,
    STATUS_FILTER,
    SandboxExchange,
    SandboxRequestError,
    trading_fee,
)
from precog.utils.clock import FakeClock

WALL = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _exchange(seed: int = 3, markets: int = 40) -> SandboxExchange:
    return SandboxExchange(seed=seed, markets=markets, clock=FakeClock(wall=WALL))


def _all(ex: SandboxExchange, method: str, key: str, **q: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(10_000):
        page = getattr(ex, method)({**q, **({"cursor": cursor} if cursor else {})})
        out.extend(page[key])
        cursor = page["cursor"]
        if not cursor:
            return out
    raise AssertionError("pagination never ended")


def test_same_seed_same_simulation() -> None:
    a, b = _exchange(seed=11), _exchange(seed=11)
    a.advance(600, steps=20)
    b.advance(600, steps=20)
    assert a.snapshot() == b.snapshot()
    c = _exchange(seed=12)
    c.advance(600, steps=20)
    assert c.snapshot() != a.snapshot()


def test_quotes_stay_consistent_while_prices_move() -> None:
    ex = _exchange()
    before = {
        m["ticker"]: m["yes_bid_dollars"] for m in ex.list_markets({"limit": "1000"})["markets"]
    }
    ex.step(50)
    markets = _all(ex, "list_markets", "markets", limit="7")
    moved = 0
    for m in markets:
        yes_bid, yes_ask = Decimal(m["yes_bid_dollars"]), Decimal(m["yes_ask_dollars"])
        no_bid, no_ask = Decimal(m["no_bid_dollars"]), Decimal(m["no_ask_dollars"])
        assert Decimal("0.01") <= yes_bid < yes_ask <= Decimal("0.99"), m["ticker"]
        assert no_bid == 1 - yes_ask
        assert no_ask == 1 - yes_bid
        assert len(m["yes_bid_dollars"].split(".")[1]) == 4
        assert m["volume_fp"].endswith(".00") or len(m["volume_fp"].split(".")[1]) == 2
        assert m["status"] in MARKET_STATUSES
        moved += before[m["ticker"]] != m["yes_bid_dollars"]
        book = ex.orderbook(m["ticker"], {})["orderbook_fp"]
        yes_levels = [Decimal(p) for p, _ in book["yes_dollars"]]
        no_levels = [Decimal(p) for p, _ in book["no_dollars"]]
        assert yes_levels == sorted(yes_levels)  # ascending, best bid last
        assert yes_levels[-1] == yes_bid
        assert 1 - no_levels[-1] == yes_ask
    assert moved > len(markets) // 3
    assert ex.portfolio_problems() == []


def test_markets_close_determine_and_settle_as_time_passes() -> None:
    ex = _exchange(markets=30)
    ticker = ex.market_tickers(["active"])[0]
    ex.markets[ticker].close_time = ex.now() + dt.timedelta(seconds=60)
    ex.advance(61)
    assert ex.markets[ticker].status == "closed"
    ex.advance(300)
    assert ex.markets[ticker].status == "determined"
    assert ex.markets[ticker].result in ("yes", "no")
    ex.advance(300)
    market = ex.get_market(ticker)["market"]
    assert market["status"] == "finalized"
    assert market["settlement_value_dollars"] in ("1.0000", "0.0000")
    assert market["settlement_ts"] is not None
    settled = ex.list_markets({"status": "settled", "limit": "1000"})["markets"]
    assert ticker in {m["ticker"] for m in settled}


def test_settling_a_held_market_pays_and_records_a_settlement() -> None:
    ex = _exchange(markets=30)
    held = next(p for p in ex.positions.values() if not p.settled and p.position != 0)
    balance_before = ex.balance
    contracts = abs(held.position)
    ex.settle_market(held.ticker)
    market = ex.markets[held.ticker]
    settlement = ex.list_settlements({"ticker": held.ticker})["settlements"]
    assert len(settlement) == 1
    won = (market.result == "yes") == (held.position > 0)
    assert settlement[0]["revenue"] == (int(contracts * 100) if won else 0)
    assert ex.balance - balance_before == (contracts if won else 0)
    assert held.position == 0
    assert held.settled
    assert ex.portfolio_problems() == []
    unsettled = ex.list_positions({"limit": "1000"})["market_positions"]
    assert held.ticker not in {p["ticker"] for p in unsettled}
    settled = ex.list_positions({"settlement_status": "settled"})["market_positions"]
    assert held.ticker in {p["ticker"] for p in settled}


def test_balance_is_cents_and_matches_dollars() -> None:
    ex = _exchange()
    body = ex.balance_json()
    assert isinstance(body["balance"], int)
    assert Decimal(body["balance_dollars"]) * 100 >= body["balance"]
    assert Decimal(body["balance_dollars"]) * 100 - body["balance"] < 1
    assert isinstance(body["portfolio_value"], int)
    assert isinstance(body["updated_ts"], int)


def test_positions_have_market_and_event_positions() -> None:
    ex = _exchange()
    body = ex.list_positions({"settlement_status": "all", "limit": "1000"})
    tickers = {p["ticker"] for p in body["market_positions"]}
    events = {e["event_ticker"] for e in body["event_positions"]}
    assert tickers
    assert events == {ex.markets[t].event_ticker for t in tickers}
    for p in body["market_positions"]:
        assert set(p) >= {"position_fp", "market_exposure_dollars", "realized_pnl_dollars"}


def test_fills_orders_and_settlements_paginate_newest_first() -> None:
    ex = _exchange(markets=60)
    ex.step(40)
    fills = _all(ex, "list_fills", "fills", limit="3")
    assert len(fills) == len(ex.fills)
    assert len({f["fill_id"] for f in fills}) == len(fills)
    orders = _all(ex, "list_orders", "orders", limit="4")
    assert len(orders) == len(ex.orders)
    resting = ex.list_orders({"status": "resting", "limit": "1000"})["orders"]
    assert all(o["status"] == "resting" for o in resting)
    settlements = _all(ex, "list_settlements", "settlements", limit="1")
    assert len(settlements) == len(ex.settlements) > 0


def test_market_pagination_is_complete_under_inserts() -> None:
    ex = _exchange(markets=30)
    first = ex.list_markets({"limit": "10"})
    ex.add_markets(25)  # new markets during pagination: nothing already seen repeats
    seen = [m["ticker"] for m in first["markets"]]
    cursor = first["cursor"]
    while cursor:
        page = ex.list_markets({"limit": "10", "cursor": cursor})
        seen.extend(m["ticker"] for m in page["markets"])
        cursor = page["cursor"]
    assert len(seen) == len(set(seen))
    assert set(seen) >= {t for t in ex.market_tickers() if t > seen[9]}


@pytest.mark.parametrize(
    ("method", "query", "detail"),
    [
        ("list_markets", {"limit": "1001"}, "limit must be between 1 and 1000"),
        ("list_markets", {"limit": "-1"}, "limit must be between 1 and 1000"),
        ("list_markets", {"limit": "ten"}, "limit must be an integer"),
        ("list_markets", {"status": "active"}, "status must be one of"),
        ("list_markets", {"cursor": "bm90LWEtY3Vyc29y"}, "invalid cursor"),
        ("list_markets", {"cursor": "%%%"}, "invalid cursor"),
        ("list_markets", {"event_ticker": "A,B"}, "single event ticker"),
        ("list_markets", {"status": "open", "min_close_ts": "1"}, "close timestamp filters"),
        ("list_events", {"limit": "201"}, "limit must be between 1 and 200"),
        ("list_events", {"with_nested_markets": "maybe"}, "must be true or false"),
        ("list_trades", {"min_ts": "yesterday"}, "min_ts must be an integer"),
        ("list_fills", {"limit": "1001"}, "limit must be between 1 and 1000"),
        ("list_orders", {"status": "pending"}, "status must be one of"),
        ("list_positions", {"settlement_status": "x"}, "settlement_status must be"),
    ],
)
def test_bad_parameters_are_400(method: str, query: dict[str, str], detail: str) -> None:
    ex = _exchange(markets=5)
    with pytest.raises(SandboxRequestError) as info:
        getattr(ex, method)(query)
    assert info.value.status == 400
    body = info.value.body()["error"]
    assert body["code"] == "invalid_parameters"
    assert detail in body["details"]


def test_default_limits_are_kalshis() -> None:
    ex = _exchange(markets=250)
    assert len(ex.list_markets({})["markets"]) == 100
    assert len(ex.list_events({})["events"]) == min(200, len(ex.events))
    assert len(ex.list_markets({"limit": "0"})["markets"]) == 100


def test_unknown_objects_are_404() -> None:
    ex = _exchange(markets=5)
    for call in (
        lambda: ex.get_market("NOPE"),
        lambda: ex.get_event("NOPE", {}),
        lambda: ex.get_series("NOPE"),
        lambda: ex.orderbook("NOPE", {}),
        lambda: ex.get_order("NOPE"),
    ):
        with pytest.raises(SandboxRequestError) as info:
            call()
        assert info.value.status == 404
        assert info.value.body()["error"]["code"] == "not_found"


def test_status_filter_vocabulary() -> None:
    ex = _exchange(markets=80)
    for name, statuses in STATUS_FILTER.items():
        found = ex.list_markets({"status": name, "limit": "1000"})["markets"]
        assert all(m["status"] in statuses for m in found)
    total = sum(
        len(ex.list_markets({"status": n, "limit": "1000"})["markets"]) for n in STATUS_FILTER
    )
    assert total == len(ex.markets)


def test_events_nest_markets_on_request() -> None:
    ex = _exchange(markets=12)
    plain = ex.list_events({"limit": "200"})["events"]
    assert all("markets" not in e for e in plain)
    nested = ex.list_events({"with_nested_markets": "true"})["events"]
    assert sum(len(e["markets"]) for e in nested) == len(ex.markets)
    one = ex.get_event(nested[0]["event_ticker"], {"with_nested_markets": "true"})
    assert one["event"]["markets"] == one["markets"]


def test_series_list_and_filters() -> None:
    ex = _exchange(markets=5)
    everything = ex.list_series({})["series"]
    assert len(everything) == 5
    sports = ex.list_series({"category": "Sports"})["series"]
    assert {s["ticker"] for s in sports} == {"KXSIMNFL", "KXSIMNBA"}
    assert ex.get_series("KXSIMNFL")["series"]["title"] == "Simulated NFL game winner"


def test_empty_portfolio_with_no_markets() -> None:
    ex = _exchange(markets=0)
    assert ex.list_settlements({})["settlements"] == []
    assert ex.list_fills({})["fills"] == []
    assert ex.balance_json()["balance"] == 1_000_000


@pytest.mark.parametrize(
    ("contracts", "price", "fee"),
    [("10", "0.50", "0.18"), ("1", "0.01", "0.01"), ("100", "0.99", "0.07"), ("3", "0.43", "0.06")],
)
def test_trading_fee_rounds_up_to_the_cent(contracts: str, price: str, fee: str) -> None:
    assert trading_fee(Decimal(contracts), Decimal(price)) == Decimal(fee)
