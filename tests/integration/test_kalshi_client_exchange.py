"""KalshiClient against a real exchange over loopback HTTP (the sandbox by default, Kalshi demo
with --kalshi-target=demo): every endpoint, full pagination, signed requests accepted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from precog.api_connectors.errors import AuthError, NotFoundError, RejectedError
from precog.api_connectors.kalshi_auth import KalshiSigner
from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from tests.plugins.kalshi_target import KalshiTarget
from tests.plugins.sandbox import RunningSandbox, new_rsa_key

pytestmark = pytest.mark.module("kalshi_client")


def client_for(target: KalshiTarget, signer: KalshiSigner | None = None) -> KalshiClient:
    return KalshiClient(
        target.base_url,
        signer=signer or target.signer,
        limiter=(limiter := AccountLimiter(Tier.BASIC)),
        public_limiter=limiter,
    )


async def test_public_market_data_endpoints(kalshi_target: KalshiTarget) -> None:
    async with client_for(kalshi_target) as client:
        status = await client.get_exchange_status()
        assert isinstance(status.exchange_active, bool)

        page = await client.get_markets(limit=5, status="open")
        assert 0 < len(page.items) <= 5
        assert page.errors == ()
        market = page.items[0]
        assert market.status == "active"
        assert isinstance(market.yes_bid, Decimal)
        assert market.no_bid == Decimal(1) - market.yes_ask  # venue reciprocity survives parsing

        again = await client.get_market(market.ticker)
        assert again.ticker == market.ticker
        assert again.event_ticker == market.event_ticker

        book = await client.get_orderbook(market.ticker, depth=3)
        assert len(book.yes) <= 3
        assert [lvl.price for lvl in book.yes] == sorted(lvl.price for lvl in book.yes)

        trades = await client.get_trades(limit=10)
        assert all(t.yes_price + t.no_price == Decimal(1) for t in trades.items)

        events = await client.get_events(limit=3, with_nested_markets=True)
        assert events.items
        assert all(e.markets for e in events.items)
        event = await client.get_event(market.event_ticker, with_nested_markets=True)
        assert market.ticker in {m.ticker for m in event.markets}

        series = await client.get_series(event.series_ticker)
        assert series.ticker == event.series_ticker
        listed = await client.list_series()
        assert series.ticker in {s.ticker for s in listed.items}


async def test_authenticated_portfolio_endpoints(kalshi_target: KalshiTarget) -> None:
    async with client_for(kalshi_target) as client:
        balance = await client.get_balance()
        assert balance.balance >= 0
        positions = await client.get_positions(settlement_status="all", limit=1000)
        fills = await client.get_fills(limit=1000)
        settlements = await client.get_settlements(limit=1000)
        orders = await client.get_orders(limit=1000)
        for page in (positions, fills, settlements, orders):
            assert page.errors == ()
        if orders.items:
            order = await client.get_order(orders.items[0].order_id)
            assert order.order_id == orders.items[0].order_id
    if kalshi_target.sandbox is not None:
        exchange = kalshi_target.sandbox.exchange
        # the sandbox sends cents AND exact dollars; we report exact dollars
        assert balance.balance == exchange.balance
        assert len(fills.items) == len(exchange.fills)
        assert len(settlements.items) == len(exchange.settlements)
        assert {p.ticker for p in positions.market_positions} == set(exchange.positions)
        assert positions.event_positions
        served = [
            r for r in kalshi_target.sandbox.server.log if r.endpoint.startswith("/portfolio")
        ]
        assert served
        assert all(r.status == 200 for r in served)
        assert {r.key_id for r in served} == {kalshi_target.signer.key_id}


async def test_full_pagination_has_no_duplicates_or_gaps(kalshi_target: KalshiTarget) -> None:
    async with client_for(kalshi_target) as client:
        tickers = [m.ticker async for m in client.iter_markets(limit=7)]
        events = [e.event_ticker async for e in client.iter_events(limit=3)]
        trades = [t.trade_id async for t in client.iter_trades(limit=5)]
        fills = [f.fill_id async for f in client.iter_fills(limit=2)]
        settlements = [s.ticker async for s in client.iter_settlements(limit=2)]
        orders = [o.order_id async for o in client.iter_orders(limit=2)]
        position_pages = [
            p async for p in client.iter_position_pages(limit=2, settlement_status="all")
        ]
    assert len(tickers) == len(set(tickers))
    assert len(events) == len(set(events))
    assert len(trades) == len(set(trades))
    assert len(fills) == len(set(fills))
    assert len(orders) == len(set(orders))
    if kalshi_target.sandbox is not None:
        exchange = kalshi_target.sandbox.exchange
        assert sorted(tickers) == sorted(exchange.markets)
        assert sorted(events) == sorted(exchange.events)
        assert len(trades) == len(exchange.trades)
        assert len(fills) == len(exchange.fills)
        assert len(settlements) == len(exchange.settlements)
        assert len(orders) == len(exchange.orders)
        assert sum(len(p.market_positions) for p in position_pages) == len(exchange.positions)


async def test_filters_are_applied_by_the_exchange(kalshi_target: KalshiTarget) -> None:
    async with client_for(kalshi_target) as client:
        first = (await client.get_markets(limit=1, status="open")).items[0]
        by_event = [m async for m in client.iter_markets(event_ticker=first.event_ticker)]
        assert by_event
        assert {m.event_ticker for m in by_event} == {first.event_ticker}
        by_tickers = await client.get_markets(tickers=[first.ticker])
        assert [m.ticker for m in by_tickers.items] == [first.ticker]
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
        none_closing = await client.get_markets(status="closed", min_close_ts=later)
        assert none_closing.items == ()


async def test_exchange_errors_are_typed(kalshi_target: KalshiTarget) -> None:
    async with client_for(kalshi_target) as client:
        with pytest.raises(NotFoundError):
            await client.get_market("NO-SUCH-MARKET-XYZ")
        with pytest.raises(RejectedError):
            await client.get_markets(status="not-a-status")
    stranger = KalshiSigner("00000000-0000-4000-8000-000000000000", new_rsa_key())
    async with client_for(kalshi_target, stranger) as client:
        with pytest.raises(AuthError) as caught:
            await client.get_balance()
    assert caught.value.reason == "unknown key"


async def test_settled_updated_and_mve_filters_reach_the_exchange(
    kalshi_target: KalshiTarget,
) -> None:
    far = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    async with client_for(kalshi_target) as client:
        assert (await client.get_markets(min_settled_ts=far)).items == ()
        settled = await client.get_markets(status="settled", limit=50)
        for market in settled.items:
            assert market.settlement_ts is not None
            window = await client.get_markets(
                status="settled",
                tickers=[market.ticker],
                min_settled_ts=market.settlement_ts,
                max_settled_ts=market.settlement_ts,
            )
            assert [m.ticker for m in window.items] == [market.ticker]
        # Kalshi refuses min_updated_ts with a status (only mve_filter=exclude and a series mix)
        with pytest.raises(RejectedError):
            await client.get_markets(status="settled", min_updated_ts=far)
        assert (await client.get_markets(min_updated_ts=far, mve_filter="exclude")).items == ()
        only = {m.ticker for m in (await client.get_markets(mve_filter="only", limit=200)).items}
        rest = {m.ticker for m in (await client.get_markets(mve_filter="exclude", limit=200)).items}
        assert not only & rest


async def test_fills_and_orders_before_the_cutoff_come_from_history(
    sandbox: RunningSandbox,
) -> None:
    exchange = sandbox.exchange
    times = sorted({f.created_time for f in exchange.fills})
    exchange.historical_cutoff = times[len(times) // 2]
    limiter = AccountLimiter(Tier.PRESTIGE)
    async with KalshiClient(
        sandbox.base_url, signer=sandbox.signer, limiter=limiter, public_limiter=limiter
    ) as client:
        cutoff = await client.get_historical_cutoff()
        live = [f.fill_id async for f in client.iter_fills(limit=5)]
        old = [f.fill_id async for f in client.iter_historical_fills(limit=5)]
        every = [f.fill_id async for p in client.iter_all_fill_pages(limit=5) for f in p.items]
        orders = [o.order_id async for p in client.iter_all_order_pages() for o in p.items]
    assert cutoff.trades_created_ts == exchange.historical_cutoff
    assert live
    assert old  # without /historical/fills these would never be imported
    assert sorted(every) == sorted(live + old) == sorted(f.fill_id for f in exchange.fills)
    assert len(every) == len(set(every))
    assert sorted(orders) == sorted(o.order_id for o in exchange.orders)
