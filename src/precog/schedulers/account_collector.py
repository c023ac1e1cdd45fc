"""Account state from Kalshi into the database: balance, positions, fills, settlements.

One path for `precog fetch balance|positions|fills|settlements`, the poller's account
cycle and `precog run`. Each method fetches everything (all pages), stores it unless the
collector has no database (a dry run), and returns what it fetched with the store counts:

- balance: a new SCD2 version only when it changed;
- positions: SCD2 versions per (ticker, side); a side that went flat is written as 0, and
  a position the exchange no longer reports (settled) is closed the same way;
- fills: live and historical (older than Kalshi's cutoff), appended, idempotent on the fill
  id (a fill without a side is reported, not guessed);
- settlements: appended, idempotent, and their markets move to `finalized`.

`on_page(records)` is called after every page (the CLI's progress bar). In a long-running
collector (`collect()`, the service), fills and settlements after the first cycle are read
incrementally from the newest one already seen (`min_ts`; the inserts are idempotent, so
the overlap of one timestamp costs nothing), instead of the whole history every minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from precog.utils.clock import Clock, SystemClock

if TYPE_CHECKING:
    from precog.api_connectors.kalshi_client import KalshiClient
    from precog.api_connectors.kalshi_models import (
        Balance,
        EventPosition,
        Fill,
        MarketPosition,
        Settlement,
    )
    from precog.database.connection import Database

PAGE = 1000
PageCallback = Callable[[int], None]


@dataclass
class Collected:
    """What one collection fetched and what storing it did (None: nothing stored)."""

    items: list[Any] = field(default_factory=list)
    stored: Any = None  # UpsertResult | InsertResult | None
    extra: list[Any] = field(default_factory=list)  # event positions; fills without a side


@dataclass
class AccountState:
    balance: Balance
    positions: Collected
    fills: Collected
    settlements: Collected


def _noop(_: int) -> None:
    return None


class AccountCollector:
    """Fetch and store the account's state; `db=None` fetches only."""

    def __init__(
        self, client: KalshiClient, db: Database | None, *, clock: Clock | None = None
    ) -> None:
        self.client = client
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._fills_since: dt.datetime | None = None
        self._settlements_since: dt.datetime | None = None

    async def balance(self) -> tuple[Balance, Any]:
        from precog.database import crud_operations as crud
        from precog.database.records import BalanceSnapshot

        balance = await self.client.get_balance()
        if self.db is None:
            return balance, None
        snapshot = BalanceSnapshot(
            balance=balance.balance,
            portfolio_value=balance.portfolio_value,
            observed_at=self.clock.now(),
        )
        async with self.db.connection() as conn:
            return balance, await crud.upsert_balances(conn, [snapshot])

    async def positions(self, on_page: PageCallback = _noop) -> Collected:
        market_positions: list[MarketPosition] = []
        event_positions: list[EventPosition] = []
        async for page in self.client.iter_position_pages(limit=PAGE):
            market_positions.extend(page.market_positions)
            event_positions.extend(page.event_positions)
            on_page(len(page.market_positions))
        out = Collected(items=market_positions, extra=event_positions)
        if self.db is not None:
            out.stored = await self._store_positions(market_positions)
        return out

    async def _store_positions(self, market_positions: Sequence[MarketPosition]) -> Any:
        from precog.database import crud_operations as crud
        from precog.database.records import PositionSnapshot

        assert self.db is not None
        observed = self.clock.now()
        async with self.db.connection() as conn:
            held = {(p.ticker, p.side) for p in await crud.get_current_positions(conn)}
            snapshots = []
            for p in market_positions:
                side = "yes" if p.position > 0 else "no" if p.position < 0 else None
                for other in ("yes", "no"):
                    if other == side:
                        snapshots.append(
                            PositionSnapshot(
                                ticker=p.ticker, side=side, quantity=abs(p.position),
                                observed_at=observed, market_exposure=p.market_exposure,
                                total_traded=p.total_traded, realized_pnl=p.realized_pnl,
                                fees_paid=p.fees_paid,
                            )
                        )  # fmt: skip
                    elif (p.ticker, other) in held:  # that side went flat
                        snapshots.append(
                            PositionSnapshot(
                                ticker=p.ticker, side=other, quantity=Decimal("0.00"),
                                observed_at=observed, market_exposure=Decimal(0),
                                total_traded=p.total_traded, realized_pnl=p.realized_pnl,
                                fees_paid=p.fees_paid,
                            )
                        )  # fmt: skip
            # Every side of every reported ticker is handled above; positions missing from
            # the answer were settled (Kalshi drops them, reference A4.10): close them too,
            # in the same transaction.
            reported = {(p.ticker, side) for p in market_positions for side in ("yes", "no")}
            async with conn.transaction():
                result = await crud.upsert_positions(conn, snapshots)
                return result + await crud.close_missing_positions(conn, reported, observed)

    async def fills(
        self,
        ticker: str | None = None,
        on_page: PageCallback = _noop,
        *,
        since: dt.datetime | None = None,
    ) -> Collected:
        from precog.database import crud_operations as crud
        from precog.database.records import FillInput

        fills: list[Fill] = []
        # Live fills, then the history before Kalshi's cutoff (GET /historical/fills).
        pages = self.client.iter_all_fill_pages(limit=PAGE, ticker=ticker, min_ts=since)
        async for page in pages:
            fills.extend(page.items)
            on_page(len(page.items))
        # A fill must say which exposure it gained; one that does not is reported, not guessed.
        out = Collected(items=fills, extra=[f.fill_id for f in fills if f.outcome_side is None])
        if self.db is None:
            return out
        inputs = [
            FillInput(
                venue_fill_id=f.fill_id, ticker=f.ticker, outcome_side=f.outcome_side,
                count=f.count, yes_price=f.yes_price, no_price=f.no_price,
                created_time=f.created_time, order_id=f.order_id, book_side=f.book_side,
                action=f.action, fee_cost=f.fee_cost, is_taker=f.is_taker,
            )
            for f in fills
            if f.outcome_side is not None
        ]  # fmt: skip
        async with self.db.connection() as conn:
            out.stored = await crud.insert_fills(conn, inputs)
        return out

    async def settlements(
        self,
        ticker: str | None = None,
        on_page: PageCallback = _noop,
        *,
        since: dt.datetime | None = None,
    ) -> Collected:
        from precog.database import crud_operations as crud
        from precog.database.records import InsertResult, SettlementInput

        settlements: list[Settlement] = []
        pages = self.client.iter_settlement_pages(limit=PAGE, ticker=ticker, min_ts=since)
        async for page in pages:
            settlements.extend(page.items)
            on_page(len(page.items))
        out = Collected(items=settlements)
        if self.db is None:
            return out
        if not settlements:
            out.stored = InsertResult(0, 0)
            return out
        inputs = [
            SettlementInput(
                ticker=s.ticker, market_result=s.market_result, revenue=s.revenue,
                settled_time=s.settled_time, event_ticker=s.event_ticker,
                yes_count=s.yes_count, no_count=s.no_count, yes_total_cost=s.yes_total_cost,
                no_total_cost=s.no_total_cost, fee_cost=s.fee_cost, value=s.value,
            )
            for s in settlements
        ]  # fmt: skip
        async with self.db.connection() as conn:
            out.stored = await crud.insert_settlements(conn, inputs)
        return out

    async def collect(self) -> AccountState:
        """One account cycle: balance, positions, fills, settlements, in that order."""
        balance, _ = await self.balance()
        positions = await self.positions()
        fills = await self.fills(since=self._fills_since)
        settlements = await self.settlements(since=self._settlements_since)
        # Only after everything was stored: a failed cycle is read again in full next time.
        self._fills_since = max((f.created_time for f in fills.items), default=self._fills_since)
        self._settlements_since = max(
            (s.settled_time for s in settlements.items), default=self._settlements_since
        )
        return AccountState(balance, positions, fills, settlements)


__all__ = ["AccountCollector", "AccountState", "Collected"]
