"""The migration runner: Alembic driven in code over a psycopg 3 connection.

There is no alembic.ini: the script location is the packaged `migrations/` directory and
the connection comes from the same conninfo the pool uses (any libpq URL or key=value
string), so migrations run against exactly the guarded target. Alembic is synchronous;
the CLI calls these functions directly (async callers: `asyncio.to_thread`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from precog.database.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Alembic narrates every step (and its plugin setup) at INFO; the CLI reports outcomes itself.
logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands: current and head revisions, what is pending, row counts."""

    current: str | None
    head: str
    pending: tuple[str, ...]
    table_counts: dict[str, int] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def _config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@contextmanager
def _alembic_connection(conninfo: str) -> Iterator[Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # `creator` lets SQLAlchemy use any libpq conninfo, including Unix-socket URLs.
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _run(conninfo: str, command: str, revision: str) -> None:
    from alembic import command as alembic_command

    config = _config()
    try:
        with _alembic_connection(conninfo) as connection:
            config.attributes["connection"] = connection
            getattr(alembic_command, command)(config, revision)
            connection.commit()
    except psycopg.OperationalError:
        raise
    except Exception as exc:
        if isinstance(getattr(exc, "orig", None), psycopg.OperationalError):
            raise exc.orig from exc  # type: ignore[attr-defined]
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationError(f"{command} to {revision} failed: {message}") from exc


def upgrade(conninfo: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`; a database already there is left untouched."""
    _run(conninfo, "upgrade", revision)


def downgrade(conninfo: str, revision: str = "base") -> None:
    """Revert migrations down to `revision` (destructive: the caller guards it)."""
    _run(conninfo, "downgrade", revision)


def script_revisions() -> list[str]:
    """All revisions of the packaged migrations, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head_revision() -> str:
    """The newest packaged revision, without loading Alembic (~0.3 s of every command's
    start-up): revision ids are the file names, numbered in chain order (a unit test
    checks both against Alembic's own reading)."""
    return max(
        path.stem for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )


def current_revision(conninfo: str) -> str | None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None


def table_counts(conninfo: str) -> dict[str, int]:
    """Exact row counts of every table in the public schema (alembic_version excluded)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            ).fetchall()
        ]
        counts: dict[str, int] = {}
        for name in names:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
            row = conn.execute(query).fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts


def status(conninfo: str) -> MigrationStatus:
    revisions = script_revisions()
    current = current_revision(conninfo)
    done = revisions.index(current) + 1 if current in revisions else 0
    return MigrationStatus(
        current=current,
        head=revisions[-1],
        pending=tuple(revisions[done:]),
        table_counts=table_counts(conninfo),
    )
