"""Data access for probability models (`probability_models`, `model_classes`).

Plain statements on a connection the caller owns: `analytics.model_manager` opens the
transaction, decides what a result means and raises the typed errors. Configs and metrics
are JSONB written and read as exact JSON text (`dumps_exact` / `loads_exact`): a `Decimal`
goes in as a JSON number with all its digits and comes back as the same `Decimal`
(PostgreSQL keeps a numeric's scale inside JSONB), never through `float`.

Versions are stored in canonical MAJOR.MINOR.PATCH form (a CHECK enforces it), so ordering
by `string_to_array(version, '.')::integer[]` is semantic ordering, served by an index.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection, sql

Conn = AsyncConnection[Any]

ONE_ACTIVE_INDEX = "uq_probability_models_one_active"
_SEMVER = "string_to_array(m.version, '.')::integer[]"
_TIMESTAMP_COLUMN = {
    "testing": "testing_at",
    "active": "activated_at",
    "deprecated": "deprecated_at",
}


@dataclass(frozen=True)
class ModelRow:
    """One stored model version; `config` and `metrics` are exact (Decimal, never float)."""

    model_id: int
    name: str
    version: str
    model_class: str
    config: dict[str, Any]
    description: str | None
    status: str
    metrics: dict[str, Any] | None
    created_at: datetime
    testing_at: datetime | None
    activated_at: datetime | None
    deprecated_at: datetime | None


@dataclass(frozen=True)
class NewModel:
    name: str
    version: str
    model_class_id: int
    config: Mapping[str, Any]
    description: str | None = None


# ---------------------------------------------------------------- exact JSON


def dumps_exact(value: Any) -> str:  # noqa: PLR0911 (one return per JSON type)
    """JSON text of plain data with `Decimal` written as a number, digit for digit."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    raise TypeError(f"cannot store {type(value).__name__} as exact JSON")


def loads_exact(text: str) -> Any:
    """Parse JSON with fractional numbers as `Decimal`."""
    return json.loads(text, parse_float=Decimal)


# ---------------------------------------------------------------- reads


_SELECT = sql.SQL(
    "SELECT m.model_id, m.name, m.version, c.code, m.config::text, m.description, m.status, "
    "m.metrics::text, m.created_at, m.testing_at, m.activated_at, m.deprecated_at "
    "FROM probability_models m JOIN model_classes c USING (model_class_id) "
)


def _row(values: Sequence[Any]) -> ModelRow:
    (model_id, name, version, model_class, config, description, status, metrics,
     created_at, testing_at, activated_at, deprecated_at) = values  # fmt: skip
    return ModelRow(
        model_id=int(model_id),
        name=str(name),
        version=str(version),
        model_class=str(model_class),
        config=loads_exact(config),
        description=description,
        status=str(status),
        metrics=None if metrics is None else loads_exact(metrics),
        created_at=created_at,
        testing_at=testing_at,
        activated_at=activated_at,
        deprecated_at=deprecated_at,
    )


async def _select(conn: Conn, where: sql.Composable, params: Any) -> list[ModelRow]:
    cur = await conn.execute(_SELECT + where, params)
    return [_row(r) for r in await cur.fetchall()]


async def model_class_ids(conn: Conn) -> dict[str, int]:
    """Every known model class code -> its id."""
    cur = await conn.execute("SELECT code, model_class_id FROM model_classes ORDER BY code")
    return {str(code): int(i) for code, i in await cur.fetchall()}


async def get_model(conn: Conn, model_id: int) -> ModelRow | None:
    rows = await _select(conn, sql.SQL("WHERE m.model_id = %s"), (model_id,))
    return rows[0] if rows else None


async def get_models(conn: Conn, keys: Sequence[tuple[str, str]]) -> list[ModelRow]:
    """The stored versions among `keys` ((name, version) pairs), in semantic order."""
    where = sql.SQL(
        "JOIN unnest(%s::text[], %s::text[]) AS k(name, version) "
        "ON k.name = m.name AND k.version = m.version ORDER BY m.name, " + _SEMVER
    )
    return await _select(conn, where, ([k[0] for k in keys], [k[1] for k in keys]))


async def list_models(
    conn: Conn,
    *,
    name: str | None = None,
    status: str | None = None,
    model_class: str | None = None,
) -> list[ModelRow]:
    """Versions matching every given filter, by name and then semantic version."""
    where = sql.SQL(
        "WHERE (%(n)s::text IS NULL OR m.name = %(n)s) "
        "AND (%(s)s::text IS NULL OR m.status = %(s)s) "
        "AND (%(c)s::text IS NULL OR c.code = %(c)s) ORDER BY m.name, " + _SEMVER
    )
    return await _select(conn, where, {"n": name, "s": status, "c": model_class})


async def latest_model(conn: Conn, name: str, status: str | None = None) -> ModelRow | None:
    """The highest version of `name` (optionally only among those in `status`)."""
    where = sql.SQL(
        "WHERE m.name = %(n)s AND (%(s)s::text IS NULL OR m.status = %(s)s) "
        "ORDER BY " + _SEMVER + " DESC LIMIT 1"
    )
    rows = await _select(conn, where, {"n": name, "s": status})
    return rows[0] if rows else None


# ---------------------------------------------------------------- writes


async def insert_models(conn: Conn, models: Sequence[NewModel], created_at: datetime) -> list[int]:
    """Insert in one statement; a (name, version) already stored is skipped. Returns new ids."""
    if not models:
        return []
    cur = await conn.execute(
        "INSERT INTO probability_models (name, version, model_class_id, config, description, "
        "created_at) SELECT i.name, i.version, i.class_id, i.config::jsonb, i.description, %s "
        "FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[]) "
        "AS i(name, version, class_id, config, description) ORDER BY i.name, i.version "
        "ON CONFLICT ON CONSTRAINT uq_probability_models_name_version DO NOTHING "
        "RETURNING model_id",
        (
            created_at,
            [m.name for m in models],
            [m.version for m in models],
            [m.model_class_id for m in models],
            [dumps_exact(m.config) for m in models],
            [m.description for m in models],
        ),
    )
    return [int(r[0]) for r in await cur.fetchall()]


async def lock_model_name(conn: Conn, name: str) -> None:
    """Serialize lifecycle changes of one model name until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('probability_models:' || %s, 0))", (name,)
    )


async def set_status(conn: Conn, model_id: int, status: str, at: datetime) -> None:
    """Move one version to `status`, stamping that step's timestamp column."""
    column = sql.Identifier(_TIMESTAMP_COLUMN[status])
    await conn.execute(
        sql.SQL("UPDATE probability_models SET status = %s, {} = %s WHERE model_id = %s").format(
            column
        ),
        (status, at, model_id),
    )


async def set_metrics(conn: Conn, model_id: int, metrics: Mapping[str, Any]) -> None:
    await conn.execute(
        "UPDATE probability_models SET metrics = %s::jsonb WHERE model_id = %s",
        (dumps_exact(metrics), model_id),
    )
