"""KalshiPoller and AccountCollector against the sandbox exchange over loopback HTTP and the
real test database: what is stored equals what the exchange serves, cycle after cycle."""

from __future__ import annotations

from decimal import Decimal

import pytest

from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.scd2 import UpsertResult
from precog.schedulers.account_collector import AccountCollector
from precog.schedulers.kalshi_poller import DatabaseSink, KalshiPoller, MarketSelection
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_poller")


def client_for(sandbox: RunningSandbox) -> KalshiClient:
    return KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=AccountLimiter(Tier.PRIME),
        public_limiter=AccountLimiter(Tier.PRIME),
    )


State = tuple[Decimal | None, ...]


def quotes(sandbox: RunningSandbox) -> dict[str, tuple[State, str]]:
    """Every tracked field the exchange serves, per market."""
    with sandbox.exchange._lock:
        return {t: ((m.yes_bid, m.yes_ask, m.last_price, m.volume, m.open_interest), m.status)
                for t, m in sandbox.exchange.markets.items()}  # fmt: skip


async def stored_quotes(db: Database) -> dict[str, tuple[State, str]]:
    async with db.connection() as conn:
        return {m.ticker: ((m.yes_bid, m.yes_ask, m.last_price, m.volume, m.open_interest),
                           m.status)
                for m in await crud.list_current_markets(conn)}  # fmt: skip


async def test_cycles_store_the_exchange_state_and_only_changes(
    sandbox: RunningSandbox, db_pool: Database
) -> None:
    async with client_for(sandbox) as client:
        poller = KalshiPoller(client, DatabaseSink(db_pool), page_size=20)
        first = await poller.poll_once()
        n = len(sandbox.exchange.markets)
        assert first.stored == UpsertResult(created=n)
        assert first.pages == -(-n // 20)
        assert await stored_quotes(db_pool) == quotes(sandbox)

        again = await poller.poll_once()
        assert again.stored == UpsertResult(unchanged=n)

        before = quotes(sandbox)
        sandbox.exchange.step(3)
        after = quotes(sandbox)
        moved = {t for t in after if after[t] != before[t]}
        third = await poller.poll_once()
        assert third.stored is not None
        assert third.stored.updated == len(moved) > 0
        assert await stored_quotes(db_pool) == after
        async with db_pool.connection() as conn:
            history = await crud.get_market_history(conn, sorted(moved)[0])
            event = await conn.execute(
                "SELECT s.ticker, e.title FROM markets m JOIN events e USING (event_id) "
                "JOIN series s USING (series_id) WHERE m.ticker = %s AND m.row_current_ind",
                (sorted(moved)[0],),
            )
            series_ticker, event_title = await event.fetchone() or (None, None)
        assert len(history) == 2
        assert history[0].row_end_ts == history[1].row_start_ts
        sim = sandbox.exchange.markets[sorted(moved)[0]]
        assert series_ticker == sandbox.exchange.events[sim.event_ticker].series_ticker
        assert event_title == sandbox.exchange.events[sim.event_ticker].title
    assert poller.stats.cycles == 3
    assert poller.stats.stored.created == n


async def test_selection_by_series_and_tickers_polls_only_those(
    sandbox: RunningSandbox, db_pool: Database
) -> None:
    series = sorted(sandbox.exchange.series)[1]
    expected = {t for t, m in sandbox.exchange.markets.items()
                if sandbox.exchange.events[m.event_ticker].series_ticker == series}  # fmt: skip
    tickers = tuple(sorted(sandbox.exchange.markets)[:3])
    async with client_for(sandbox) as client:
        by_series = KalshiPoller(
            client, DatabaseSink(db_pool), selection=MarketSelection(series=(series,))
        )
        assert {m.ticker for m in (await by_series.poll_once()).markets} == expected
        by_ticker = KalshiPoller(client, None, selection=MarketSelection(tickers=tickers))
        assert tuple(m.ticker for m in (await by_ticker.poll_once()).markets) == tickers
    assert set(await stored_quotes(db_pool)) == expected


async def test_account_collector_stores_what_the_exchange_reports(
    sandbox: RunningSandbox, db_pool: Database
) -> None:
    sandbox.exchange.advance(3600, steps=20)  # trades, fills and some settlements happen
    exchange = sandbox.exchange
    async with client_for(sandbox) as client:
        collector = AccountCollector(client, db_pool)
        state = await collector.collect()
        assert state.balance.balance == exchange.balance
        assert {f.fill_id for f in state.fills.items} == {f.fill_id for f in exchange.fills}
        async with db_pool.connection() as conn:
            balance = await crud.get_current_balance(conn)
            fills = await crud.list_fills(conn)
            settlements = await crud.list_settlements(conn)
            positions = await crud.get_current_positions(conn)
        assert balance is not None
        assert balance.balance == exchange.balance
        assert len(fills) == len([f for f in exchange.fills if f.side]) > 0
        assert len(settlements) == len(exchange.settlements)
        held = {(t, "yes" if p.position > 0 else "no"): abs(p.position)
                for t, p in exchange.positions.items() if p.position != 0}  # fmt: skip
        assert {(p.ticker, p.side): p.quantity for p in positions if p.quantity} == held

        # a second cycle changes nothing
        await collector.collect()
        async with db_pool.connection() as conn:
            assert len(await crud.get_balance_history(conn)) == 1
            assert len(await crud.list_fills(conn)) == len(fills)

        # later cycles read fills and settlements from the newest one seen, and miss none
        sandbox.exchange.advance(3600, steps=20)
        later = await collector.collect()
        assert len(later.fills.items) < len(exchange.fills)  # incremental, not everything
        async with db_pool.connection() as conn:
            stored_fills = {f.venue_fill_id for f in await crud.list_fills(conn)}
            stored_settlements = len(await crud.list_settlements(conn))
        assert stored_fills == {f.fill_id for f in exchange.fills if f.side}
        assert stored_settlements == len(exchange.settlements)
