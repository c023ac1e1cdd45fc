"""The one SCD Type 2 writer: batched, set-based, change-detecting, order-independent.

Every SCD2 table (markets, account_balance, positions, game_states) is described by an
`Scd2Table` (business key columns, tracked columns) and written only through `Scd2Writer`.

What a version stores: its tracked values, `row_start_ts` (the first observation of the
run of equal observations it represents), `row_end_ts` (the next version's start, NULL while
current) and `row_observed_ts` (the last observation that confirmed it). History is the
run-length encoding of the observations in time order, whatever order they arrive in:

- An observation in the unconfirmed gap of a version (after its `row_observed_ts`, before
  the next version's start) is placed exactly: equal values extend the confirmation, values
  equal to the next version move that version's start back, other values insert a version.
  Before the first version it works the same way; after the current one it is the usual case.
- The late-observation rule: an observation that falls INSIDE a confirmed span
  `[row_start_ts, row_observed_ts]` cannot be placed exactly if its values differ (where
  the change would end depends on observations that were equal and never stored). It is
  `stale`: counted, not written. With equal values it changes nothing (`unchanged`).
  Consequently the current row always equals the newest observation, and any batching or
  interleaving of one set of observations yields the history of one ordered replay whenever
  no observation was stale.
- Times are instants: every timestamp is converted to UTC before sorting, de-duplicating or
  comparing. Within one batch, observations of one key at the same instant keep the last
  one given (the others count as unchanged).

One batch is one transaction of one pipelined round trip (two for large batches), whatever
its size and however many observations each key has. Nothing but counts comes back:
1. the batch goes into a session-local staging table (`COPY` for large batches, where it
   costs a fraction of binding arrays; an `unnest` of arrays in the pipeline otherwise);
2. insert unseen business keys into `<table>_keys`; lock the batch's keys (`FOR NO KEY
   UPDATE`, in key-id order, so concurrent writers of the same keys serialize without
   deadlock or lost update); compute the plan into a second staging table: one statement
   with window functions merges each key's observations with the boundary points of the
   versions they touch and yields the versions to move, confirm or insert. The streaming
   case (a key's only observation in the batch is newer than its current version's last
   confirmation, or the key is new) is decided in the same statement without the windows,
   which is what keeps the common batch as cheap as a plain close-and-insert;
3. shrink versions (end, confirmation), grow versions (start moved back), insert new
   versions, all from the plan; in that order no intermediate state ever overlaps, so the
   exclusion constraint and the one-current-row index hold after every row.

Deadlocks and serialization failures retry the whole batch through the project's retry
policy when the writer owns the transaction; inside a caller's transaction they propagate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus

from precog.database.errors import InvalidValueError, NotNullViolationError
from precog.utils.retry import RetryPolicy, retry_async

DEFAULT_RETRY = RetryPolicy(max_retries=5, base_delay=0.02, max_delay=0.5)
# From this many observations a batch is staged with COPY (one extra round trip, but the
# values are formatted in C instead of bound as arrays element by element).
COPY_FROM = 500
ONE_MICROSECOND = timedelta(microseconds=1)


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
class Patch:
    """Set some tracked columns of a key's current version, from `not_before` at the earliest.

    Applied under the writer's key lock to the current version as it is once the lock is
    held: a new observation at max(`not_before`, the version's last confirmation + 1 us).
    """

    key: tuple[Any, ...]
    changes: Mapping[str, Any]
    not_before: datetime


@dataclass(frozen=True)
class UpsertResult:
    """Counts of one batch: new keys, new versions of known keys, no change, stale (not written).

    `stale` counts observations dropped by the late-observation rule (see the module doc).
    """

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


# ---------------------------------------------------------------- exact value encoding


class JsonText(str):
    """JSON text that is already encoded (e.g. read back from a jsonb column): sent as is."""


class UnencodableValueError(ValueError):
    """A value that has no exact database representation (naive time, NaN, unknown type)."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise UnencodableValueError(
            f"naive datetime {value.isoformat()} (no time zone); give a timezone-aware time"
        )
    return value.astimezone(UTC)


def _encode_scalar(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        finite = math.isfinite(value) if isinstance(value, float) else value.is_finite()
        if not finite:
            raise UnencodableValueError(f"{value!r} is not a JSON number")
        return repr(value) if isinstance(value, float) else str(value)  # both JSON numbers
    if isinstance(value, datetime):
        return json.dumps(_utc(value).isoformat())
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    raise UnencodableValueError(f"a {type(value).__name__} cannot be stored as JSON")


def _encode_json(value: Any, out: list[str]) -> None:
    # Why not json.dumps(default=str): a Decimal must stay a JSON number and a time an
    # instant, or the same value written twice looks like a change.
    if isinstance(value, Mapping):
        out.append("{")
        for index, name in enumerate(sorted(value)):
            if not isinstance(name, str):
                raise UnencodableValueError(f"JSON object key {name!r} is not a string")
            out.append(("," if index else "") + json.dumps(name) + ":")
            _encode_json(value[name], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode_json(item, out)
        out.append("]")
    else:
        out.append(_encode_scalar(value))


def encode_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, numbers as JSON numbers, times as ISO 8601 UTC."""
    if isinstance(value, JsonText):
        return str(value)
    out: list[str] = []
    _encode_json(value, out)
    return "".join(out)


def sql_param(column: Column, value: Any) -> Any:
    """The parameter to send for `value` in `column` (JSON encoded exactly, times in UTC)."""
    if value is None:
        return None
    if column.is_json:
        return encode_json(value)
    if isinstance(value, datetime):
        return _utc(value)
    return value


# ---------------------------------------------------------------- batch preparation


@dataclass(frozen=True)
class _Prepared:
    """One validated observation: its instant in UTC and its parameters in column order."""

    key: tuple[Any, ...]
    at: datetime
    params: tuple[Any, ...]  # business key columns, then tracked columns


def _param(table: Scd2Table, column: Column, value: Any) -> Any:
    try:
        return sql_param(column, value)
    except UnencodableValueError as exc:
        raise InvalidValueError(
            table=table.name, column=column.name, constraint=None, detail=str(exc)
        ) from None


_PLAIN = frozenset({str, int, bool, float, Decimal, type(None)})


def _validate(table: Scd2Table, obs: Observation, expected: set[str]) -> None:
    if len(obs.key) != len(table.business_key):
        raise ValueError(f"{table.name}: key {obs.key!r} must have {len(table.business_key)} parts")
    for column, part in zip(table.business_key, obs.key, strict=True):
        if part is None:
            raise NotNullViolationError(
                table=table.name,
                column=column.name,
                constraint=None,
                detail="a business-key column may not be null",
            )
    if obs.observed_at.tzinfo is None or obs.observed_at.utcoffset() is None:
        raise ValueError(f"{table.name}: observed_at of {obs.key!r} must be timezone-aware")
    if obs.values.keys() != expected:
        missing = sorted(expected - set(obs.values))
        extra = sorted(set(obs.values) - expected)
        raise ValueError(f"{table.name}: {obs.key!r} missing {missing}, unknown {extra}")


def prepare(table: Scd2Table, observations: Sequence[Observation]) -> tuple[list[_Prepared], int]:
    """Validate and normalise a batch; keep the last one given per (key, instant).

    Returns the prepared observations and how many exact duplicates were dropped.
    """
    latest: dict[tuple[tuple[Any, ...], datetime], _Prepared] = {}
    columns = [(c, c.is_json) for c in (*table.business_key, *table.tracked)]
    names = table.tracked_names
    expected = set(names)
    for obs in observations:
        _validate(table, obs, expected)
        values = (*obs.key, *(obs.values[name] for name in names))
        params = tuple(
            # Fast path for the common case: plain scalars go out as they are.
            value if not is_json and type(value) in _PLAIN else _param(table, column, value)
            for (column, is_json), value in zip(columns, values, strict=True)
        )
        at = obs.observed_at.astimezone(UTC)  # instants, not wall clocks
        latest[(obs.key, at)] = _Prepared(obs.key, at, params)
    return list(latest.values()), len(observations) - len(latest)


# ---------------------------------------------------------------- SQL


def _array_type(column: Column) -> sql.Composable:
    return sql.SQL("text[]" if column.is_json else f"{column.sql_type}[]")


def _names(columns: Sequence[Column], alias: str | None = None) -> sql.Composable:
    if alias is None:
        return sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return sql.SQL(", ").join(sql.Identifier(alias, c.name) for c in columns)


def _typed(alias: str, column: Column) -> sql.Composable:
    ident = sql.Identifier(alias, column.name)
    if column.is_json:
        return sql.SQL("{}::jsonb AS {}").format(ident, sql.Identifier(column.name))
    return ident


def _arrays(columns: Sequence[Column], first: Sequence[str] = ()) -> sql.Composable:
    return sql.SQL(", ").join(
        [sql.SQL(f"%s::{t}") for t in first]
        + [sql.SQL("%s::{}").format(_array_type(c)) for c in columns]
    )


_PLAN = """
INSERT INTO {plan} (key_id, vid, ord, start_ts, end_ts, observed_ts, first, grows, shrinks)
WITH u AS (SELECT ts, {bk}, {tr}, ord FROM {stage}),
i AS (SELECT k.{key_id} AS key_id, u.ord, u.ts, {u_tr} FROM u JOIN {keys} k ON {k_is_u}),
b AS (SELECT key_id, min(ts) AS lo, max(ts) AS hi FROM i GROUP BY key_id),
v AS (
    SELECT s.* FROM b CROSS JOIN LATERAL (
        SELECT t.id, t.{key_id} AS key_id, t.row_start_ts, t.row_end_ts, t.row_observed_ts,
            {t_tr}
        FROM {table} t WHERE t.{key_id} = b.key_id AND t.row_start_ts <= b.hi
            AND t.row_start_ts >= coalesce((
                SELECT max(t0.row_start_ts) FROM {table} t0
                WHERE t0.{key_id} = b.key_id AND t0.row_start_ts <= b.lo), '-infinity')
            AND (t.row_end_ts IS NULL OR t.row_end_ts > b.lo)
        OFFSET 0) s  -- the versions overlapping [lo, hi]: versions never overlap, so from the
                    -- last one starting at or before lo; two probes of the (key, start) btree,
                    -- a few times cheaper than the exclusion constraint's gist index
    UNION ALL
    SELECT s.* FROM b CROSS JOIN LATERAL (
        SELECT t.id, t.{key_id}, t.row_start_ts, t.row_end_ts, t.row_observed_ts, {t_tr}
        FROM {table} t WHERE t.{key_id} = b.key_id AND t.row_start_ts > b.hi
        ORDER BY t.row_start_ts LIMIT 1) s
),
f AS (  -- the streaming case, decided without windows (see the module docstring)
    SELECT i.key_id, i.ord, i.ts, v.id AS vid, v.row_start_ts, v.row_observed_ts,
        ROW({v_tr}) IS NOT DISTINCT FROM ROW({i_tr}) AS same
    FROM i JOIN b ON b.key_id = i.key_id AND b.lo = b.hi
    LEFT JOIN v ON v.key_id = i.key_id
    WHERE v.id IS NULL OR (v.row_end_ts IS NULL AND i.ts > v.row_observed_ts)
),
gi AS (SELECT * FROM i WHERE NOT EXISTS (SELECT 1 FROM f WHERE f.key_id = i.key_id)),
gv AS (SELECT * FROM v WHERE NOT EXISTS (SELECT 1 FROM f WHERE f.key_id = v.key_id)),
c AS (
    SELECT gi.*, gv.id AS vid, ROW({gv_tr}) IS NOT DISTINCT FROM ROW({gi_tr}) AS same
    FROM gi LEFT JOIN gv ON gv.key_id = gi.key_id
        AND gi.ts BETWEEN gv.row_start_ts AND gv.row_observed_ts
),
p AS (
    SELECT key_id, row_start_ts AS ts, id AS vid, NULL::bigint AS ord, {tr} FROM gv
    UNION ALL
    SELECT key_id, row_observed_ts, id, NULL, {tr} FROM gv WHERE row_observed_ts > row_start_ts
    UNION ALL
    SELECT key_id, ts, NULL, ord, {tr} FROM c WHERE vid IS NULL
),
m AS (
    SELECT p.*, (row_number() OVER w = 1 {changed}) AS brk
    FROM p WINDOW w AS (PARTITION BY key_id ORDER BY ts)
),
r AS (SELECT m.*, sum(brk::int) OVER (PARTITION BY key_id ORDER BY ts) AS run FROM m),
g AS (
    SELECT key_id, run, min(ts) AS start_ts, max(ts) AS observed_ts, max(vid) AS vid,
        max(ord) FILTER (WHERE brk) AS ord
    FROM r GROUP BY key_id, run
),
e AS (
    SELECT key_id, CASE WHEN bool_and(row_end_ts IS NOT NULL) THEN max(row_end_ts) END AS tail
    FROM gv GROUP BY key_id
),
x AS (
    SELECT g.*, coalesce(lead(g.start_ts) OVER (PARTITION BY g.key_id ORDER BY g.run), e.tail)
        AS end_ts, e.key_id IS NULL AND g.run = 1 AS first
    FROM g LEFT JOIN e ON e.key_id = g.key_id
)
SELECT x.key_id, x.vid, x.ord, x.start_ts, x.end_ts, x.observed_ts, x.first,
    x.start_ts <> v.row_start_ts AS grows,
    (x.end_ts, x.observed_ts) IS DISTINCT FROM (v.row_end_ts, v.row_observed_ts) AS shrinks
FROM x LEFT JOIN v ON v.id = x.vid
WHERE x.vid IS NULL OR x.start_ts <> v.row_start_ts
    OR (x.end_ts, x.observed_ts) IS DISTINCT FROM (v.row_end_ts, v.row_observed_ts)
UNION ALL  -- streaming case: confirm the current version, or close it ...
SELECT key_id, vid, NULL, row_start_ts, CASE WHEN same THEN NULL ELSE ts END,
    CASE WHEN same THEN ts ELSE row_observed_ts END, FALSE, FALSE, TRUE
FROM f WHERE vid IS NOT NULL
UNION ALL  -- ... and start a new one (or the first one of a new key)
SELECT key_id, NULL, ord, ts, NULL, ts, vid IS NULL, FALSE, FALSE
FROM f WHERE vid IS NULL OR NOT same
UNION ALL  -- the counts: key_id NULL marks this row
SELECT NULL, (SELECT count(*) FROM c WHERE vid IS NOT NULL AND NOT same),
    (SELECT count(*) FROM i), NULL, NULL, NULL, NULL, NULL, NULL
"""


class Scd2Writer:
    """Writes batches of observations into one SCD2 table (statements built once)."""

    def __init__(
        self, table: Scd2Table, *, retry: RetryPolicy = DEFAULT_RETRY, copy_from: int = COPY_FROM
    ) -> None:
        self.table = table
        self.retry = retry
        self.copy_from = copy_from  # batches of at least this many observations use COPY
        self._build_statements()

    def _build_statements(self) -> None:
        t = self.table
        bk, tr = t.business_key, t.tracked
        key_id = sql.Identifier(t.key_id)
        keys = sql.Identifier(t.keys_table)
        table = sql.Identifier(t.name)
        key_match = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier("k", c.name), sql.Identifier("i", c.name))
            for c in bk
        )
        self._lock_keys = sql.SQL(
            "SELECT k.{key_id} FROM {keys} k JOIN unnest({arrays}) AS i({bk}) ON {match} "
            "ORDER BY k.{key_id} FOR NO KEY UPDATE OF k"
        ).format(key_id=key_id, keys=keys, arrays=_arrays(bk), bk=_names(bk), match=key_match)
        self._read_current = sql.SQL(
            "SELECT {k_bk}, t.row_observed_ts, {t_tr} FROM {keys} k "
            "JOIN unnest({arrays}) AS i({bk}) ON {match} "
            "JOIN {table} t ON t.{key_id} = k.{key_id} AND t.row_current_ind"
        ).format(
            k_bk=_names(bk, "k"),
            t_tr=sql.SQL(", ").join(
                sql.SQL("{}::text").format(sql.Identifier("t", c.name))
                if c.is_json
                else sql.Identifier("t", c.name)
                for c in tr
            ),
            keys=keys,
            arrays=_arrays(bk),
            bk=_names(bk),
            match=key_match,
            table=table,
            key_id=key_id,
        )
        changed = sql.SQL("").join(
            sql.SQL(" OR {c} IS DISTINCT FROM lag({c}) OVER w").format(c=sql.Identifier(c.name))
            for c in tr
        )
        stage = sql.Identifier("pg_temp", f"precog_scd2_stage_{t.name}")
        plan = sql.Identifier("pg_temp", f"precog_scd2_plan_{t.name}")
        self._create_staging = sql.SQL(
            "DO $$ BEGIN IF to_regclass({stage_name}) IS NULL THEN "
            "CREATE TEMP TABLE {stage} (ts timestamptz, {stage_cols}, ord bigint) "
            "ON COMMIT DELETE ROWS; END IF; "
            "IF to_regclass({plan_name}) IS NULL THEN "
            "CREATE TEMP TABLE {plan} (key_id bigint, vid bigint, ord bigint, "
            "start_ts timestamptz, end_ts timestamptz, observed_ts timestamptz, first boolean, "
            "grows boolean, shrinks boolean) ON COMMIT DELETE ROWS; END IF; END $$"
        ).format(
            stage=stage,
            plan=plan,
            stage_name=sql.Literal(f"pg_temp.precog_scd2_stage_{t.name}"),
            plan_name=sql.Literal(f"pg_temp.precog_scd2_plan_{t.name}"),
            stage_cols=sql.SQL(", ").join(
                sql.SQL("{} {}").format(
                    sql.Identifier(c.name), sql.SQL("text" if c.is_json else c.sql_type)
                )
                for c in (*bk, *tr)
            ),
        )
        # Earlier batches of the same transaction may have left rows (cleared at commit).
        self._clear_staging = [
            sql.SQL("DELETE FROM {}").format(stage),
            sql.SQL("DELETE FROM {}").format(plan),
        ]
        self._copy_stage = sql.SQL("COPY {stage} (ts, {cols}, ord) FROM STDIN").format(
            stage=stage, cols=_names([*bk, *tr])
        )
        self._fill_stage = sql.SQL(
            "INSERT INTO {stage} (ts, {cols}, ord) SELECT * FROM unnest({arrays}) WITH ORDINALITY"
        ).format(
            stage=stage,
            cols=_names([*bk, *tr]),
            arrays=_arrays([*bk, *tr], first=["timestamptz[]"]),
        )
        stage_keys = sql.SQL("SELECT DISTINCT {bk} FROM {stage}").format(bk=_names(bk), stage=stage)
        self._insert_staged_keys = sql.SQL(
            "INSERT INTO {keys} ({bk}) {stage_keys} ORDER BY {bk} ON CONFLICT DO NOTHING"
        ).format(keys=keys, bk=_names(bk), stage_keys=stage_keys)
        self._lock_staged_keys = sql.SQL(
            "SELECT k.{key_id} FROM {keys} k JOIN ({stage_keys}) AS i ON {match} "
            "ORDER BY k.{key_id} FOR NO KEY UPDATE OF k"
        ).format(key_id=key_id, keys=keys, stage_keys=stage_keys, match=key_match)
        self._plan = sql.SQL(_PLAN).format(
            stage=stage,
            plan=plan,
            bk=_names(bk),
            tr=_names(tr),
            key_id=key_id,
            u_tr=sql.SQL(", ").join(_typed("u", c) for c in tr),
            keys=keys,
            k_is_u=sql.SQL(" AND ").join(
                sql.SQL("{} = {}").format(sql.Identifier("k", c.name), sql.Identifier("u", c.name))
                for c in bk
            ),
            table=table,
            t_tr=_names(tr, "t"),
            v_tr=_names(tr, "v"),
            i_tr=_names(tr, "i"),
            gv_tr=_names(tr, "gv"),
            gi_tr=_names(tr, "gi"),
            changed=changed,
        )
        # The plan's last row (key_id NULL) carries the batch's counts: stale in vid, matched
        # observations in ord.
        self._shrink = sql.SQL(
            "UPDATE {table} t SET row_end_ts = p.end_ts, row_observed_ts = p.observed_ts, "
            "row_current_ind = p.end_ts IS NULL FROM {plan} p "
            "WHERE p.key_id IS NOT NULL AND p.shrinks AND t.id = p.vid"
        ).format(table=table, plan=plan)
        self._grow = sql.SQL(
            "UPDATE {table} t SET row_start_ts = p.start_ts FROM {plan} p "
            "WHERE p.key_id IS NOT NULL AND p.grows AND t.id = p.vid"
        ).format(table=table, plan=plan)
        self._insert = sql.SQL(
            "INSERT INTO {table} ({key_id}, {cols}, row_start_ts, row_end_ts, row_observed_ts, "
            "row_current_ind) SELECT p.key_id, {s_cols}, p.start_ts, p.end_ts, p.observed_ts, "
            "p.end_ts IS NULL FROM {plan} p JOIN {stage} s ON s.ord = p.ord "
            "WHERE p.key_id IS NOT NULL AND p.vid IS NULL"
        ).format(
            table=table,
            key_id=key_id,
            cols=_names([*bk, *tr]),
            s_cols=sql.SQL(", ").join(_typed("s", c) for c in (*bk, *tr)),
            plan=plan,
            stage=stage,
        )
        self._counts = sql.SQL(
            "SELECT count(*) FILTER (WHERE key_id IS NOT NULL AND vid IS NULL AND first), "
            "count(*) FILTER (WHERE key_id IS NOT NULL AND vid IS NULL AND NOT first), "
            "max(vid) FILTER (WHERE key_id IS NULL), max(ord) FILTER (WHERE key_id IS NULL) "
            "FROM {plan}"
        ).format(plan=plan)

    # ------------------------------------------------------------ public API

    async def upsert(
        self, conn: AsyncConnection[Any], observations: Sequence[Observation]
    ) -> UpsertResult:
        """Write one batch; returns (created, updated, unchanged, stale) counts.

        Owns its transaction (retrying deadlocks) when `conn` is idle; otherwise joins the
        caller's transaction (as a savepoint) and leaves retries to the caller.
        """
        if not observations:
            return UpsertResult()
        prepared, duplicates = prepare(self.table, observations)

        async def attempt() -> UpsertResult:
            async with conn.transaction():
                return await self._write(conn, prepared) + UpsertResult(unchanged=duplicates)

        return await self._run(conn, attempt)

    async def patch_current(
        self, conn: AsyncConnection[Any], patches: Sequence[Patch]
    ) -> UpsertResult:
        """Apply `patches` to the current versions under the key lock (see `Patch`).

        Keys without a current version are left alone; a current version that already has
        the patched values is unchanged.
        """
        if not patches:
            return UpsertResult()
        by_key = {p.key: p for p in patches}
        for patch in patches:
            _utc(patch.not_before)  # refuse naive times before touching the database

        async def attempt() -> UpsertResult:
            async with conn.transaction():
                arrays = self._key_arrays(list(by_key))
                async with conn.pipeline():
                    await conn.execute(self._lock_keys, arrays)
                    cur = await conn.execute(self._read_current, arrays)
                rows = await cur.fetchall()
                observations = []
                width = len(self.table.business_key)
                for row in rows:
                    key = tuple(row[:width])
                    patch = by_key[key]
                    values = dict(zip(self.table.tracked_names, row[width + 1 :], strict=True))
                    if all(values[name] == value for name, value in patch.changes.items()):
                        continue
                    for column in self.table.tracked:
                        if column.is_json and values[column.name] is not None:
                            values[column.name] = JsonText(values[column.name])
                    values.update(patch.changes)
                    at = max(_utc(patch.not_before), row[width] + ONE_MICROSECOND)
                    observations.append(Observation(key, values, at))
                if not observations:
                    return UpsertResult(unchanged=len(rows))
                prepared, _ = prepare(self.table, observations)
                result = await self._write(conn, prepared)
                return result + UpsertResult(unchanged=len(rows) - len(observations))

        return await self._run(conn, attempt)

    # ------------------------------------------------------------ internals

    async def _run(
        self, conn: AsyncConnection[Any], attempt: Callable[[], Awaitable[UpsertResult]]
    ) -> UpsertResult:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            return await attempt()
        return await retry_async(attempt, policy=self.retry, is_retryable=is_retryable_conflict)

    def _key_arrays(self, keys: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
        """One parameter array per business key column (`_lock_keys` orders the locks)."""
        columns = enumerate(self.table.business_key)
        return [[sql_param(col, key[i]) for key in keys] for i, col in columns]

    async def _write(self, conn: AsyncConnection[Any], batch: Sequence[_Prepared]) -> UpsertResult:
        staged_by_copy = len(batch) >= self.copy_from
        async with conn.pipeline():
            await conn.execute(self._create_staging)
            for statement in self._clear_staging:
                await conn.execute(statement)
            if not staged_by_copy:
                width = len(self.table.business_key) + len(self.table.tracked)
                inputs: list[list[Any]] = [[obs.at for obs in batch]]
                inputs += [[obs.params[i] for obs in batch] for i in range(width)]
                await conn.execute(self._fill_stage, inputs)
        if staged_by_copy:
            async with conn.cursor().copy(self._copy_stage) as copy:
                for number, obs in enumerate(batch, 1):
                    await copy.write_row((obs.at, *obs.params, number))
        async with conn.pipeline():
            await conn.execute(self._insert_staged_keys)
            await conn.execute(self._lock_staged_keys)
            await conn.execute(self._plan)
            await conn.execute(self._shrink)
            await conn.execute(self._grow)
            await conn.execute(self._insert)
            counts = await conn.execute(self._counts)
        row = await counts.fetchone()
        assert row is not None  # an aggregate always returns one row
        created, updated, stale, matched = (int(v or 0) for v in row)
        if matched != len(batch):  # only if a key's type does not round-trip (str vs int)
            raise ValueError(
                f"{self.table.name}: {len(batch) - matched} observations lost their key"
            )
        return UpsertResult(
            created=created,
            updated=updated,
            unchanged=len(batch) - created - updated - stale,
            stale=stale,
        )
