"""Any SCD2 table by name: the versions of one key, or its state at a point in time (what
`precog db history` prints)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from precog.database.crud_operations._common import Conn
from precog.database.crud_operations.account import (
    get_balance_at,
    get_balance_history,
    get_position_at,
    get_position_history,
)
from precog.database.crud_operations.market_data import get_market_at, get_market_history
from precog.database.crud_operations.sports import get_game_state_at, get_game_state_history
from precog.database.input_checks import check_key
from precog.errors import ConfigError

# ---------------------------------------------------------------- any SCD2 table by name


SCD2_KEY_FIELDS = {
    "markets": ("ticker",),
    "account_balance": ("platform",),
    "positions": ("ticker", "side", "platform"),
    "game_states": ("league", "espn_event_id"),
}
SCD2_KEY_HELP = {
    "markets": "TICKER",
    "account_balance": "[PLATFORM]",
    "positions": "TICKER SIDE [PLATFORM]",
    "game_states": "LEAGUE ESPN_EVENT_ID",
}


async def scd2_history(
    conn: Conn, table: str, key: Sequence[str], *, at: datetime | None = None
) -> list[Any]:
    """History of one business key of any SCD2 table (or its version valid at `at`)."""
    p = list(key)
    for field, part in zip(SCD2_KEY_FIELDS.get(table, ()), p, strict=False):
        check_key(table, field, part)  # an impossible key is bad input, not a database error
    history: Callable[[], Awaitable[list[Any]]] | None = None
    at_time: Callable[[datetime], Awaitable[Any]] | None = None
    if table == "markets" and len(p) == 1:
        history = lambda: get_market_history(conn, p[0])  # noqa: E731
        at_time = lambda t: get_market_at(conn, p[0], t)  # noqa: E731
    elif table == "account_balance" and len(p) <= 1:
        platform = p[0] if p else "kalshi"
        history = lambda: get_balance_history(conn, platform)  # noqa: E731
        at_time = lambda t: get_balance_at(conn, t, platform)  # noqa: E731
    elif table == "positions" and len(p) in (2, 3):
        venue = p[2] if len(p) == 3 else "kalshi"
        history = lambda: get_position_history(conn, p[0], p[1], venue)  # noqa: E731
        at_time = lambda t: get_position_at(conn, p[0], p[1], t, venue)  # noqa: E731
    elif table == "game_states" and len(p) == 2:
        history = lambda: get_game_state_history(conn, p[0], p[1])  # noqa: E731
        at_time = lambda t: get_game_state_at(conn, p[0], p[1], t)  # noqa: E731
    if history is None or at_time is None:
        expected = SCD2_KEY_HELP.get(table)
        if expected is None:
            tables = ", ".join(SCD2_KEY_HELP)
            raise ConfigError(f"{table!r} is not an SCD2 table; use one of: {tables}")
        raise ConfigError(f"{table} needs the key {expected}, got {' '.join(p) or 'nothing'}")
    if at is None:
        return await history()
    row = await at_time(at)
    return [row] if row is not None else []
