"""Wire shapes of the sandbox exchange: Kalshi's current fixed-point JSON for every object.

Prices and money are dollar strings with 4 decimals (``"0.5600"``), fees with 6
(``"0.010000"``), counts are strings with 2 decimals (``"10.00"``), date-times are RFC 3339
UTC (``"2026-10-05T20:00:00Z"``), and the few legacy integer fields the current API still has
(balance cents, settlement revenue cents) stay integers. Pure functions of the simulation
records; no state.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from precog.sandbox.records import (
        SimEvent,
        SimFill,
        SimMarket,
        SimOrder,
        SimPosition,
        SimSeries,
        SimSettlement,
        SimTrade,
    )

PRICE_PLACES = Decimal("0.0001")
PORTFOLIO_PLACES = Decimal("0.000001")
COUNT_PLACES = Decimal("0.01")


def dollars(value: Decimal) -> str:
    return str(value.quantize(PRICE_PLACES))


def portfolio_dollars(value: Decimal) -> str:
    """Portfolio money that Kalshi emits with 6 decimals since 2026-03-07 (reference A3)."""
    return str(value.quantize(PORTFOLIO_PLACES))


def count(value: Decimal) -> str:
    return str(value.quantize(COUNT_PLACES))


def cents(value: Decimal) -> int:
    """Dollars -> integer cents, truncating sub-cent amounts as Kalshi does."""
    return int((value * 100).to_integral_value(rounding=ROUND_DOWN))


def timestamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def market_json(m: SimMarket) -> dict[str, Any]:
    return {
        "ticker": m.ticker,
        "event_ticker": m.event_ticker,
        "market_type": "binary",
        "title": m.title,
        "subtitle": m.yes_sub_title,
        "yes_sub_title": m.yes_sub_title,
        "no_sub_title": m.no_sub_title,
        "created_time": timestamp(m.created_time),
        "updated_time": timestamp(m.updated_time),
        "open_time": timestamp(m.open_time),
        "close_time": timestamp(m.close_time),
        "expected_expiration_time": timestamp(m.close_time + dt.timedelta(hours=1)),
        "expiration_time": timestamp(m.close_time + dt.timedelta(days=7)),
        "latest_expiration_time": timestamp(m.close_time + dt.timedelta(days=7)),
        "settlement_timer_seconds": m.settlement_timer_seconds,
        "status": m.status,
        "yes_bid_dollars": dollars(m.yes_bid),
        "yes_bid_size_fp": count(m.yes_sizes[0]),
        "yes_ask_dollars": dollars(m.yes_ask),
        "yes_ask_size_fp": count(m.no_sizes[0]),
        "no_bid_dollars": dollars(m.no_bid),
        "no_ask_dollars": dollars(m.no_ask),
        "last_price_dollars": dollars(m.last_price),
        "volume_fp": count(m.volume),
        "volume_24h_fp": count(m.volume_24h),
        "open_interest_fp": count(m.open_interest),
        "notional_value_dollars": "1.0000",
        "previous_yes_bid_dollars": dollars(m.previous_yes_bid),
        "previous_yes_ask_dollars": dollars(m.previous_yes_ask),
        "previous_price_dollars": dollars(m.previous_price),
        "liquidity_dollars": "0.0000",
        "result": m.result,
        "can_close_early": False,
        "settlement_value_dollars": (
            dollars(m.settlement_value) if m.settlement_value is not None else None
        ),
        "settlement_ts": timestamp(m.settlement_ts),
        "expiration_value": m.result,
        "occurrence_datetime": None,
        "fee_waiver_expiration_time": None,
        "early_close_condition": None,
        "strike_type": "greater",
        "floor_strike": m.floor_strike,
        "cap_strike": None,
        "rules_primary": f"Resolves Yes if the value is above {m.floor_strike} at close.",
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "is_provisional": False,
        "exchange_index": 0,
        **({"mve_collection_ticker": m.mve_collection_ticker} if m.mve_collection_ticker else {}),
    }


def orderbook_json(m: SimMarket, depth: int) -> dict[str, Any]:
    yes = [[dollars(p), count(s)] for p, s in m.yes_levels()]  # best first
    no = [[dollars(p), count(s)] for p, s in m.no_levels()]
    if depth > 0:
        yes, no = yes[:depth], no[:depth]
    # Kalshi sorts ascending: the best (highest) bid is the last element.
    return {"orderbook_fp": {"yes_dollars": yes[::-1], "no_dollars": no[::-1]}}


def trade_json(t: SimTrade) -> dict[str, Any]:
    return {
        "trade_id": t.trade_id,
        "ticker": t.ticker,
        "count_fp": count(t.count),
        "yes_price_dollars": dollars(t.yes_price),
        "no_price_dollars": dollars(Decimal(1) - t.yes_price),
        "taker_side": t.taker_side,
        "taker_outcome_side": t.taker_side,
        "taker_book_side": "bid" if t.taker_side == "yes" else "ask",
        "created_time": timestamp(t.created_time),
        "is_block_trade": False,
    }


def event_json(e: SimEvent, markets: list[SimMarket] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_ticker": e.event_ticker,
        "series_ticker": e.series_ticker,
        "title": e.title,
        "sub_title": e.sub_title,
        "collateral_return_type": "",
        "mutually_exclusive": False,
        "category": e.category,
        "strike_date": timestamp(e.strike_date),
        "strike_period": None,
        "available_on_brokers": False,
        "product_metadata": None,
        "settlement_sources": [{"name": "Precog Sandbox", "url": "http://127.0.0.1/"}],
        "last_updated_ts": timestamp(e.last_updated),
        "exchange_index": 0,
    }
    if markets is not None:
        body["markets"] = [market_json(m) for m in markets]
    return body


def series_json(s: SimSeries) -> dict[str, Any]:
    return {
        "ticker": s.ticker,
        "frequency": s.frequency,
        "title": s.title,
        "category": s.category,
        "tags": list(s.tags),
        "settlement_sources": [{"name": "Precog Sandbox", "url": "http://127.0.0.1/"}],
        "contract_url": "http://127.0.0.1/contract",
        "contract_terms_url": "http://127.0.0.1/terms",
        "product_metadata": None,
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
        "last_updated_ts": timestamp(s.last_updated),
        "exchange_index": 0,
    }


def market_position_json(p: SimPosition) -> dict[str, Any]:
    return {
        "ticker": p.ticker,
        "exchange_index": 0,
        "total_traded_dollars": dollars(p.total_traded),
        "position_fp": count(p.position),
        "market_exposure_dollars": dollars(p.exposure),
        "realized_pnl_dollars": dollars(p.realized_pnl),
        "fees_paid_dollars": dollars(p.fees_paid),
        "last_updated_ts": timestamp(p.last_updated),
    }


def event_position_json(event_ticker: str, positions: list[SimPosition]) -> dict[str, Any]:
    return {
        "event_ticker": event_ticker,
        "total_cost_dollars": dollars(sum((p.total_traded for p in positions), Decimal(0))),
        "total_cost_shares_fp": count(sum((abs(p.position) for p in positions), Decimal(0))),
        "event_exposure_dollars": dollars(sum((p.exposure for p in positions), Decimal(0))),
        "realized_pnl_dollars": dollars(sum((p.realized_pnl for p in positions), Decimal(0))),
        "fees_paid_dollars": dollars(sum((p.fees_paid for p in positions), Decimal(0))),
    }


def fill_json(f: SimFill) -> dict[str, Any]:
    return {
        "fill_id": f.fill_id,
        "trade_id": f.fill_id,
        "order_id": f.order_id,
        "ticker": f.ticker,
        "market_ticker": f.ticker,
        "exchange_index": 0,
        "side": f.side,
        "action": "buy",
        "outcome_side": f.side,
        "book_side": "bid" if f.side == "yes" else "ask",
        "count_fp": count(f.count),
        "yes_price_dollars": dollars(f.yes_price),
        "no_price_dollars": dollars(Decimal(1) - f.yes_price),
        "is_taker": True,
        "created_time": timestamp(f.created_time),
        "fee_cost": portfolio_dollars(f.fee),
        "subaccount_number": None,
        "ts": int(f.created_time.timestamp()),
    }


def settlement_json(s: SimSettlement) -> dict[str, Any]:
    return {
        "ticker": s.ticker,
        "exchange_index": 0,
        "event_ticker": s.event_ticker,
        "market_result": s.market_result,
        "yes_count_fp": count(s.yes_count),
        "yes_total_cost_dollars": dollars(s.yes_total_cost),
        "no_count_fp": count(s.no_count),
        "no_total_cost_dollars": dollars(s.no_total_cost),
        "revenue": s.revenue_cents,
        "settled_time": timestamp(s.settled_time),
        "fee_cost": "0.000000",
        "value": 100 if s.market_result == "yes" else 0,
    }


def order_json(o: SimOrder) -> dict[str, Any]:
    filled = o.initial_count - o.remaining_count
    return {
        "order_id": o.order_id,
        "user_id": o.user_id,
        "client_order_id": o.client_order_id,
        "ticker": o.ticker,
        "side": o.side,
        "action": "buy",
        "outcome_side": o.side,
        "book_side": "bid" if o.side == "yes" else "ask",
        "type": "limit",
        "status": o.status,
        "yes_price_dollars": dollars(o.yes_price),
        "no_price_dollars": dollars(Decimal(1) - o.yes_price),
        "fill_count_fp": count(filled),
        "remaining_count_fp": count(o.remaining_count),
        "initial_count_fp": count(o.initial_count),
        "taker_fill_cost_dollars": dollars(o.fill_cost),
        "maker_fill_cost_dollars": "0.0000",
        "taker_fees_dollars": dollars(o.fees),
        "maker_fees_dollars": "0.0000",
        "expiration_time": None,
        "created_time": timestamp(o.created_time),
        "last_update_time": timestamp(o.last_update_time),
        "self_trade_prevention_type": "taker_at_cross",
        "order_group_id": None,
        "cancel_order_on_pause": False,
        "subaccount_number": None,
        "exchange_index": 0,
    }
