"""The data-access API for every table of SPEC §4, one file per aggregate over shared
plumbing (`_common`): `market_data`, `account`, `sports`, `models`, and `history` (any
SCD2 table by name). The functions of the first four and `history` are re-exported here.

Write side (each call is one transaction; it retries deadlocks when it owns the
transaction and joins the caller's transaction otherwise):
- SCD2 tables through the one writer in `scd2.py`: `upsert_markets` (creating the series
  and events a market needs from the snapshot), `upsert_balances`, `upsert_positions`,
  `upsert_game_states`; all return `UpsertResult(created, updated, unchanged, stale)`;
- positions the venue stopped reporting (settled, closed): `close_missing_positions`;
- append-only, idempotent on the venue's id: `insert_fills`, `insert_settlements` (a new
  settlement also moves its market to `finalized` with the result);
- reference data: `upsert_series`, `upsert_events`, `upsert_teams`, `upsert_venues`,
  `upsert_rankings` (insert or update in place, returning ids).
Read side: current row, full history, and the state at a point in time for every SCD2
table; lookups and listings for the rest. Rows come back as the frozen records of
`records.py`.

Failures: NOT NULL / FK / CHECK / UNIQUE violations raise the typed errors of
`precog.database.errors` naming table and column; the whole call is rolled back.
"""

from __future__ import annotations

from precog.database.crud_operations._common import (
    BALANCES,
    GAME_STATES,
    MARKETS,
    MONEY,
    POSITIONS,
    SCD2_TABLES,
    SETTLED_STATUS,
    Conn,
    platform_id,
)
from precog.database.crud_operations.account import (
    close_missing_positions,
    get_balance_at,
    get_balance_history,
    get_current_balance,
    get_current_position,
    get_current_positions,
    get_position_at,
    get_position_history,
    insert_fills,
    insert_settlements,
    list_fills,
    list_settlements,
    upsert_balances,
    upsert_positions,
)
from precog.database.crud_operations.history import (
    SCD2_KEY_FIELDS,
    SCD2_KEY_HELP,
    scd2_history,
)
from precog.database.crud_operations.market_data import (
    get_current_market,
    get_market_at,
    get_market_history,
    list_current_markets,
    upsert_events,
    upsert_markets,
    upsert_series,
)
from precog.database.crud_operations.sports import (
    find_game_history,
    get_current_game_state,
    get_game_state_at,
    get_game_state_history,
    get_team,
    get_venue,
    list_current_game_states,
    list_rankings,
    list_teams,
    record_games,
    tracked_state,
    upsert_game_states,
    upsert_rankings,
    upsert_teams,
    upsert_venues,
)
from precog.database.records import InsertResult
from precog.database.scd2 import UpsertResult

__all__ = [
    "BALANCES",
    "GAME_STATES",
    "MARKETS",
    "MONEY",
    "POSITIONS",
    "SCD2_KEY_FIELDS",
    "SCD2_KEY_HELP",
    "SCD2_TABLES",
    "SETTLED_STATUS",
    "Conn",
    "InsertResult",
    "UpsertResult",
    "close_missing_positions",
    "find_game_history",
    "get_balance_at",
    "get_balance_history",
    "get_current_balance",
    "get_current_game_state",
    "get_current_market",
    "get_current_position",
    "get_current_positions",
    "get_game_state_at",
    "get_game_state_history",
    "get_market_at",
    "get_market_history",
    "get_position_at",
    "get_position_history",
    "get_team",
    "get_venue",
    "insert_fills",
    "insert_settlements",
    "list_current_game_states",
    "list_current_markets",
    "list_fills",
    "list_rankings",
    "list_settlements",
    "list_teams",
    "platform_id",
    "record_games",
    "scd2_history",
    "tracked_state",
    "upsert_balances",
    "upsert_events",
    "upsert_game_states",
    "upsert_markets",
    "upsert_positions",
    "upsert_rankings",
    "upsert_series",
    "upsert_teams",
    "upsert_venues",
]
