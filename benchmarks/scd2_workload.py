"""The market workload shared by the SCD2 benchmarks: snapshots, the naive path, COPY.

A market's state is a full snapshot (prices, sizes, times, texts), as the poller stores it.
`Prices` keeps each market's current yes bid so a cycle can change an exact share of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

T0 = datetime(2026, 6, 1, tzinfo=UTC)
BATCH = 5_000
TRACKED = (
    "event_id", "title", "subtitle", "status", "yes_bid", "yes_ask", "no_bid", "no_ask",
    "last_price", "volume", "open_interest", "open_time", "close_time", "result",
    "settlement_value",
)  # fmt: skip
CENT = Decimal("0.01")


class Prices:
    """Each market's yes bid in cents; `bump(every)` changes every `every`-th market."""

    def __init__(self, count: int) -> None:
        self.cents = [i % 90 + 5 for i in range(count)]

    def bump(self, every: int) -> None:
        for i in range(0, len(self.cents), every):
            self.cents[i] = self.cents[i] % 90 + 6  # stays within 6..95, always different


def snapshots(prefix: str, prices: Prices, step: int) -> list[Any]:
    """One snapshot per market at `T0 + step` seconds."""
    from precog.database.records import MarketSnapshot

    at = T0 + timedelta(seconds=step)
    opened = T0 - timedelta(days=30)
    closes = T0 + timedelta(days=30)
    out = []
    for i, cents in enumerate(prices.cents):
        bid = cents * CENT
        out.append(
            MarketSnapshot(
                ticker=f"{prefix}-{i:07d}", event_ticker=f"{prefix}-EV{i // 50}",
                series_ticker=prefix, status="active", observed_at=at,
                title=f"Will {prefix} {i} happen?", subtitle="benchmark market",
                yes_bid=bid, yes_ask=bid + CENT, no_bid=Decimal(1) - bid - CENT,
                no_ask=Decimal(1) - bid, last_price=bid, volume=Decimal(1000 + i),
                open_interest=Decimal(500 + i), open_time=opened, close_time=closes,
            )
        )  # fmt: skip
    return out


async def upsert_in_batches(conn: Any, snaps: Sequence[Any], batch: int = BATCH) -> Any:
    from precog.database import crud_operations as crud
    from precog.database.scd2 import UpsertResult

    total = UpsertResult()
    for offset in range(0, len(snaps), batch):
        total += await crud.upsert_markets(conn, snaps[offset : offset + batch])
    return total


_COLUMNS = ", ".join(TRACKED)
_PLACEHOLDERS = ", ".join(["%s"] * (len(TRACKED) + 4))
_CURRENT = f"SELECT id, market_id, {_COLUMNS} FROM markets WHERE ticker = %s AND row_current_ind"  # noqa: S608 - constants
_CLOSE = "UPDATE markets SET row_end_ts = %s, row_current_ind = FALSE WHERE id = %s"
_INSERT = f"INSERT INTO markets (market_id, ticker, {_COLUMNS}, row_start_ts, row_observed_ts) VALUES ({_PLACEHOLDERS})"  # noqa: S608, E501 - constants


async def naive_upsert(conn: Any, snaps: Sequence[Any]) -> int:
    """The row-at-a-time reference of SCD2 tutorials: per snapshot read the current version;
    if a tracked column changed, close it and insert the new one in a transaction of its own.
    Returns the number of versions written."""
    written = 0
    for s in snaps:
        cur = await conn.execute(_CURRENT, (s.ticker,))
        row = await cur.fetchone()
        if row is None:
            continue
        current = dict(zip(TRACKED, row[2:], strict=True))
        new = {**{name: getattr(s, name) for name in TRACKED if name != "event_id"},
               "event_id": current["event_id"]}  # fmt: skip
        if new == current:
            continue
        async with conn.transaction():
            await conn.execute(_CLOSE, (s.observed_at, row[0]))
            await conn.execute(
                _INSERT,
                (row[1], s.ticker, *(new[name] for name in TRACKED), s.observed_at,
                 s.observed_at),
            )  # fmt: skip
        written += 1
    return written


async def market_keys(conn: Any, prefix: str) -> list[tuple[int, str, int]]:
    cur = await conn.execute(
        "SELECT market_id, ticker, event_id FROM markets WHERE row_current_ind "
        "AND ticker LIKE %s ORDER BY market_id",
        (prefix + "-%",),
    )
    return [(int(a), str(b), int(c)) for a, b, c in await cur.fetchall()]


async def copy_versions(conn: Any, keys: Sequence[tuple[int, str, int]], base: datetime) -> None:
    """The practical limit for writing versions: a plain COPY of one closed version per key
    (before `base` + 1 s, so no constraint conflicts) into the same table, same constraints."""
    columns = ", ".join(("market_id", "ticker", *TRACKED, "row_start_ts", "row_end_ts",
                         "row_observed_ts", "row_current_ind"))  # fmt: skip
    opened, closes = base - timedelta(days=30), base + timedelta(days=30)
    end = base + timedelta(milliseconds=500)
    async with (
        conn.transaction(),
        conn.cursor().copy(f"COPY markets ({columns}) FROM STDIN") as pipe,
    ):
        for i, (market_id, ticker, event_id) in enumerate(keys):
            bid = (i % 90 + 5) * CENT
            await pipe.write_row(
                (market_id, ticker, event_id, f"Will {ticker} happen?", "benchmark market",
                 "active", bid, bid + CENT, Decimal(1) - bid - CENT, Decimal(1) - bid, bid,
                 Decimal(1000 + i), Decimal(500 + i), opened, closes, None, None,
                 base, end, base, False)
            )  # fmt: skip
