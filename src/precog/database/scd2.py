"""The one SCD Type 2 writer: batched, set-based, change-detecting, safe under concurrency.

Every SCD2 table (markets, account_balance, positions, game_states) is described by an
`Scd2Table` (business key columns, tracked columns) and written only through `upsert`.

One batch is one transaction of a few statements, whatever its size:
1. insert unseen business keys into `<table>_keys` (sorted, ON CONFLICT DO NOTHING);
2. lock the batch's keys: `SELECT ... FOR NO KEY UPDATE` ordered by key id, so concurrent
   writers of the same keys serialize in one global order (no deadlock, no lost update);
3. close current versions whose tracked columns changed (UPDATE ... FROM unnest(...)) and
   count stale observations, in one statement;
4. insert a new current version for every key left without one (new keys and the ones just
   closed). Steps 3 and 4 run in a pipeline (one round trip).
The old version's `row_end_ts` is the new version's `row_start_ts`, so history has no gaps
and no overlaps; the database's partial unique index and exclusion constraint back this up.

Timestamps and ordering rules:
- `observed_at` (venue time, or receive time when the venue sends none) becomes
  `row_start_ts`; it must be timezone-aware.
- An observation not newer than the current version never rewrites history: an equal
  timestamp is a replay (counted `unchanged`); an older one is `stale` (ignored, counted).
- Several observations of one key in a batch are applied in timestamp order (one set-based
  round per position); exact duplicates (same key and timestamp) keep the last one given.

Deadlocks and serialization failures (possible when a caller's own statements interleave)
retry the whole batch through the project's retry policy when the writer owns the
transaction; inside a caller's transaction they propagate.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus

from precog.database.errors import NotNullViolationError
from precog.utils.retry import RetryPolicy, retry_async

DEFAULT_RETRY = RetryPolicy(max_retries=5, base_delay=0.02, max_delay=0.5)


@dataclass(frozen=True)
class Column:
    """A column and its SQL type (used to type the unnest arrays)."""

    name: str
    sql_type: str

    @property
    def is_json(self) -> bool:
        return self.sql_type.lower() == "jsonb"


@dataclass(frozen=True)
class Scd2Table:
    """What the writer needs to know about one SCD2 table."""

    name: str
    key_id: str
    business_key: tuple[Column, ...]
    tracked: tuple[Column, ...]

    @property
    def keys_table(self) -> str:
        return f"{self.name}_keys"

    @property
    def tracked_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.tracked)


@dataclass(frozen=True)
class Observation:
    """One observed state of one business key at one instant."""

    key: tuple[Any, ...]
    values: Mapping[str, Any]
    observed_at: datetime


@dataclass(frozen=True)
class UpsertResult:
    """Counts of one batch: new keys, new versions of known keys, no change, stale (ignored)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.stale + other.stale,
        )

    @property
    def written(self) -> int:
        return self.created + self.updated


def is_retryable_conflict(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)


def _array_type(column: Column) -> sql.Composable:
    return sql.SQL("text[]" if column.is_json else f"{column.sql_type}[]")


def sql_param(column: Column, value: Any) -> Any:
    if column.is_json and value is not None:
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _select_expr(alias: str, column: Column) -> sql.Composable:
    ident = sql.Identifier(alias, column.name)
    return sql.SQL("{}::jsonb").format(ident) if column.is_json else ident


def _validate(table: Scd2Table, observations: Sequence[Observation]) -> None:
    expected = set(table.tracked_names)
    for obs in observations:
        if len(obs.key) != len(table.business_key):
            raise ValueError(
                f"{table.name}: key {obs.key!r} must have {len(table.business_key)} parts"
            )
        for column, part in zip(table.business_key, obs.key, strict=True):
            if part is None:
                raise NotNullViolationError(
                    table=table.name,
                    column=column.name,
                    constraint=None,
                    detail="a business-key column may not be null",
                )
        if obs.observed_at.tzinfo is None:
            raise ValueError(f"{table.name}: observed_at of {obs.key!r} must be timezone-aware")
        if set(obs.values) != expected:
            missing = sorted(expected - set(obs.values))
            extra = sorted(set(obs.values) - expected)
            raise ValueError(f"{table.name}: {obs.key!r} missing {missing}, unknown {extra}")


def _rounds(observations: Sequence[Observation]) -> tuple[list[list[Observation]], int]:
    """Split a batch into rounds (k-th observation of every key), dropping exact duplicates."""
    latest: dict[tuple[tuple[Any, ...], datetime], Observation] = {}
    for obs in observations:
        latest[(obs.key, obs.observed_at)] = obs  # the last one given wins
    duplicates = len(observations) - len(latest)
    per_key: dict[tuple[Any, ...], list[Observation]] = defaultdict(list)
    for obs in latest.values():
        per_key[obs.key].append(obs)
    rounds: list[list[Observation]] = []
    for series in per_key.values():
        series.sort(key=lambda o: o.observed_at)
        for index, obs in enumerate(series):
            if index == len(rounds):
                rounds.append([])
            rounds[index].append(obs)
    return rounds, duplicates


class Scd2Writer:
    """Writes batches of observations into one SCD2 table (statements prepared once)."""

    def __init__(self, table: Scd2Table, *, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.table = table
        self.retry = retry
        self._build_statements()

    def _build_statements(self) -> None:
        t = self.table
        bk = [sql.Identifier(c.name) for c in t.business_key]
        bk_list = sql.SQL(", ").join(bk)
        bk_arrays = sql.SQL(", ").join(
            sql.SQL("%s::{}").format(_array_type(c)) for c in t.business_key
        )
        key_id = sql.Identifier(t.key_id)
        keys = sql.Identifier(t.keys_table)
        table = sql.Identifier(t.name)
        self._insert_keys = sql.SQL(
            "INSERT INTO {keys} ({bk}) SELECT {bk} FROM unnest({arrays}) AS i({bk}) "
            "ORDER BY {bk} ON CONFLICT DO NOTHING"
        ).format(keys=keys, bk=bk_list, arrays=bk_arrays)
        key_match = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier("k", c.name), sql.Identifier("i", c.name))
            for c in t.business_key
        )
        self._lock_keys = sql.SQL(
            "SELECT k.{key_id}, {k_bk} FROM {keys} k JOIN unnest({arrays}) AS i({bk}) ON {match} "
            "ORDER BY k.{key_id} FOR NO KEY UPDATE OF k"
        ).format(
            key_id=key_id,
            k_bk=sql.SQL(", ").join(sql.Identifier("k", c.name) for c in t.business_key),
            keys=keys,
            arrays=bk_arrays,
            bk=bk_list,
            match=key_match,
        )
        data_cols = [*t.business_key, *t.tracked]
        input_cols = sql.SQL(", ").join(
            [sql.Identifier("key_id"), sql.Identifier("ts")]
            + [sql.Identifier(c.name) for c in data_cols]
        )
        input_arrays = sql.SQL(", ").join(
            [sql.SQL("%s::bigint[]"), sql.SQL("%s::timestamptz[]")]
            + [sql.SQL("%s::{}").format(_array_type(c)) for c in data_cols]
        )
        unnest = sql.SQL("unnest({}) AS i({})").format(input_arrays, input_cols)
        tracked_t = sql.SQL(", ").join(sql.Identifier("t", c.name) for c in t.tracked)
        tracked_i = sql.SQL(", ").join(_select_expr("i", c) for c in t.tracked)
        self._close = sql.SQL(
            "WITH i AS (SELECT * FROM {unnest}), "
            "closed AS (UPDATE {table} t SET row_end_ts = i.ts, row_current_ind = FALSE "
            "FROM i WHERE t.{key_id} = i.key_id AND t.row_current_ind AND i.ts > t.row_start_ts "
            "AND ROW({tracked_t}) IS DISTINCT FROM ROW({tracked_i}) RETURNING 1) "
            "SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM i JOIN {table} t "
            "ON t.{key_id} = i.key_id AND t.row_current_ind AND i.ts < t.row_start_ts)"
        ).format(
            unnest=unnest, table=table, key_id=key_id, tracked_t=tracked_t, tracked_i=tracked_i
        )
        all_cols = sql.SQL(", ").join(
            [key_id]
            + [sql.Identifier(c.name) for c in data_cols]
            + [sql.Identifier("row_start_ts"), sql.Identifier("row_current_ind")]
        )
        select_cols = sql.SQL(", ").join(
            [sql.Identifier("i", "key_id")]
            + [_select_expr("i", c) for c in data_cols]
            + [sql.Identifier("i", "ts"), sql.SQL("TRUE")]
        )
        self._insert = sql.SQL(
            "WITH ins AS (INSERT INTO {table} ({cols}) SELECT {select} FROM {unnest} "
            "WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key_id} = i.key_id "
            "AND t.row_current_ind) RETURNING 1) SELECT count(*) FROM ins"
        ).format(table=table, cols=all_cols, select=select_cols, unnest=unnest, key_id=key_id)

    async def upsert(
        self, conn: AsyncConnection[Any], observations: Sequence[Observation]
    ) -> UpsertResult:
        """Write one batch; returns (created, updated, unchanged, stale) counts.

        Owns its transaction (retrying deadlocks) when `conn` is idle; otherwise joins the
        caller's transaction (as a savepoint) and leaves retries to the caller.
        """
        if not observations:
            return UpsertResult()
        _validate(self.table, observations)
        rounds, duplicates = _rounds(observations)

        async def attempt() -> UpsertResult:
            async with conn.transaction():
                ids = await self._key_ids(conn, rounds[0])
                total = UpsertResult(unchanged=duplicates)
                for batch in rounds:
                    total = total + await self._apply(conn, ids, batch)
                return total

        if conn.info.transaction_status != TransactionStatus.IDLE:
            return await attempt()
        return await retry_async(attempt, policy=self.retry, is_retryable=is_retryable_conflict)

    async def _key_ids(
        self, conn: AsyncConnection[Any], first_round: list[Observation]
    ) -> dict[tuple[Any, ...], int]:
        keys = sorted({obs.key for obs in first_round}, key=repr)
        arrays = [
            [sql_param(col, key[i]) for key in keys]
            for i, col in enumerate(self.table.business_key)
        ]
        await conn.execute(self._insert_keys, arrays)
        cur = await conn.execute(self._lock_keys, arrays)
        ids = {tuple(row[1:]): int(row[0]) for row in await cur.fetchall()}
        missing = [key for key in keys if key not in ids]
        if missing:  # only possible if a key's type does not round-trip (e.g. str vs int)
            raise ValueError(f"{self.table.name}: keys not found after insert: {missing[:3]!r}")
        return ids

    async def _apply(
        self, conn: AsyncConnection[Any], ids: dict[tuple[Any, ...], int], batch: list[Observation]
    ) -> UpsertResult:
        t = self.table
        params: list[list[Any]] = [
            [ids[obs.key] for obs in batch],
            [obs.observed_at for obs in batch],
        ]
        params += [
            [sql_param(c, obs.key[i]) for obs in batch] for i, c in enumerate(t.business_key)
        ]
        params += [[sql_param(c, obs.values[c.name]) for obs in batch] for c in t.tracked]
        async with conn.pipeline():
            close_cur = await conn.execute(self._close, params)
            insert_cur = await conn.execute(self._insert, params)
            close_row = await close_cur.fetchone()
            insert_row = await insert_cur.fetchone()
        assert close_row is not None
        assert insert_row is not None
        updated, stale = int(close_row[0]), int(close_row[1])
        inserted = int(insert_row[0])
        created = inserted - updated
        return UpsertResult(
            created=created,
            updated=updated,
            unchanged=len(batch) - inserted - stale,
            stale=stale,
        )


async def upsert(
    conn: AsyncConnection[Any], table: Scd2Table, observations: Sequence[Observation]
) -> UpsertResult:
    """Convenience: `Scd2Writer(table).upsert(conn, observations)` with a cached writer."""
    writer = _WRITERS.get(table)
    if writer is None:
        writer = _WRITERS[table] = Scd2Writer(table)
    return await writer.upsert(conn, observations)


_WRITERS: dict[Scd2Table, Scd2Writer] = {}
