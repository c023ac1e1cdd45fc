"""Typed, frozen records for what goes into and comes out of the database.

Inputs (`*Snapshot`, `*Input`) are what a caller observed; rows (`*Row`) are what a table
holds, field names equal to column names. Money, prices and counts are `Decimal`; times are
timezone-aware `datetime`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SeriesInput:
    ticker: str
    title: str | None = None
    category: str | None = None
    frequency: str | None = None


@dataclass(frozen=True)
class EventInput:
    event_ticker: str
    series_ticker: str
    title: str | None = None
    sub_title: str | None = None
    category: str | None = None
    strike_date: datetime | None = None
    mutually_exclusive: bool | None = None


@dataclass(frozen=True)
class MarketSnapshot:
    """One observed state of a market; its series and event are created if unknown."""

    ticker: str
    event_ticker: str
    series_ticker: str
    status: str
    observed_at: datetime
    title: str | None = None
    subtitle: str | None = None
    yes_bid: Decimal | None = None
    yes_ask: Decimal | None = None
    no_bid: Decimal | None = None
    no_ask: Decimal | None = None
    last_price: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    open_time: datetime | None = None
    close_time: datetime | None = None
    result: str | None = None
    settlement_value: Decimal | None = None
    event_title: str | None = None
    series_title: str | None = None


@dataclass(frozen=True)
class BalanceSnapshot:
    balance: Decimal
    observed_at: datetime
    portfolio_value: Decimal | None = None
    platform: str = "kalshi"


@dataclass(frozen=True)
class PositionSnapshot:
    ticker: str
    side: str  # yes | no
    quantity: Decimal
    observed_at: datetime
    market_exposure: Decimal | None = None
    total_traded: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees_paid: Decimal | None = None
    platform: str = "kalshi"


@dataclass(frozen=True)
class FillInput:
    venue_fill_id: str
    ticker: str
    outcome_side: str  # yes | no
    count: Decimal
    yes_price: Decimal
    created_time: datetime
    no_price: Decimal | None = None
    order_id: str | None = None
    book_side: str | None = None  # bid | ask
    action: str | None = None  # buy | sell
    fee_cost: Decimal | None = None
    is_taker: bool | None = None
    platform: str = "kalshi"


@dataclass(frozen=True)
class SettlementInput:
    ticker: str
    market_result: str  # yes | no | scalar | void
    revenue: Decimal  # dollars
    settled_time: datetime
    event_ticker: str | None = None
    yes_count: Decimal | None = None
    no_count: Decimal | None = None
    yes_total_cost: Decimal | None = None
    no_total_cost: Decimal | None = None
    fee_cost: Decimal | None = None
    value: Decimal | None = None
    platform: str = "kalshi"


@dataclass(frozen=True)
class TeamInput:
    league: str
    espn_team_id: str
    display_name: str
    abbreviation: str | None = None
    location: str | None = None
    name: str | None = None
    color: str | None = None
    alternate_color: str | None = None


@dataclass(frozen=True)
class VenueInput:
    espn_venue_id: str
    name: str
    city: str | None = None
    state: str | None = None
    country: str | None = None
    indoor: bool | None = None


@dataclass(frozen=True)
class RankingInput:
    team_id: int
    poll: str
    season: int
    rank: int
    ranked_at: datetime
    week: int | None = None


@dataclass(frozen=True)
class GameStateSnapshot:
    league: str
    espn_event_id: str
    status: str
    observed_at: datetime
    home_team_id: int | None = None
    away_team_id: int | None = None
    venue_id: int | None = None
    start_time: datetime | None = None
    season_type: str | None = None
    period: int | None = None
    clock_seconds: Decimal | None = None
    display_clock: str | None = None
    home_score: int | None = None
    away_score: int | None = None
    situation: dict[str, Any] | None = None


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class InsertResult:
    """Append-only inserts: rows written and rows already present (same venue id)."""

    inserted: int
    duplicates: int


@dataclass(frozen=True)
class MarketRow:
    id: int
    market_id: int
    ticker: str
    event_id: int
    title: str | None
    subtitle: str | None
    status: str
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    no_bid: Decimal | None
    no_ask: Decimal | None
    last_price: Decimal | None
    volume: Decimal | None
    open_interest: Decimal | None
    open_time: datetime | None
    close_time: datetime | None
    result: str | None
    settlement_value: Decimal | None
    row_start_ts: datetime
    row_end_ts: datetime | None
    row_current_ind: bool


@dataclass(frozen=True)
class BalanceRow:
    id: int
    balance_key_id: int
    platform_id: int
    balance: Decimal
    portfolio_value: Decimal | None
    row_start_ts: datetime
    row_end_ts: datetime | None
    row_current_ind: bool


@dataclass(frozen=True)
class PositionRow:
    id: int
    position_key_id: int
    platform_id: int
    ticker: str
    side: str
    quantity: Decimal
    market_exposure: Decimal | None
    total_traded: Decimal | None
    realized_pnl: Decimal | None
    fees_paid: Decimal | None
    row_start_ts: datetime
    row_end_ts: datetime | None
    row_current_ind: bool


@dataclass(frozen=True)
class GameStateRow:
    id: int
    game_key_id: int
    league: str
    espn_event_id: str
    home_team_id: int | None
    away_team_id: int | None
    venue_id: int | None
    start_time: datetime | None
    season_type: str | None
    status: str
    period: int | None
    clock_seconds: Decimal | None
    display_clock: str | None
    home_score: int | None
    away_score: int | None
    situation: dict[str, Any] | None
    row_start_ts: datetime
    row_end_ts: datetime | None
    row_current_ind: bool


@dataclass(frozen=True)
class FillRow:
    fill_id: int
    platform_id: int
    venue_fill_id: str
    order_id: str | None
    market_id: int
    ticker: str
    outcome_side: str
    book_side: str | None
    action: str | None
    count: Decimal
    yes_price: Decimal
    no_price: Decimal | None
    fee_cost: Decimal | None
    is_taker: bool | None
    created_time: datetime


@dataclass(frozen=True)
class SettlementRow:
    settlement_id: int
    platform_id: int
    market_id: int
    ticker: str
    event_ticker: str | None
    market_result: str
    yes_count: Decimal | None
    no_count: Decimal | None
    yes_total_cost: Decimal | None
    no_total_cost: Decimal | None
    revenue: Decimal
    fee_cost: Decimal | None
    value: Decimal | None
    settled_time: datetime


@dataclass(frozen=True)
class TeamRow:
    team_id: int
    league: str
    espn_team_id: str
    abbreviation: str | None
    display_name: str
    location: str | None
    name: str | None
    color: str | None
    alternate_color: str | None


@dataclass(frozen=True)
class VenueRow:
    venue_id: int
    espn_venue_id: str
    name: str
    city: str | None
    state: str | None
    country: str | None
    indoor: bool | None


@dataclass(frozen=True)
class RankingRow:
    ranking_id: int
    team_id: int
    poll: str
    season: int
    week: int | None
    rank: int
    ranked_at: datetime
