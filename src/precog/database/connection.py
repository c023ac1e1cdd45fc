"""Connections to PostgreSQL: target resolution, the environment guard, the async pool.

This module owns:
- turning the environment into a connection string: DATABASE_URL, or the embedded server
  under $PRECOG_HOME (started or reused, the environment's database created on first use);
- the environment guard (SPEC §3), applied to the resolved target before anything connects
  and again to `current_database()` of every new pooled connection;
- the psycopg 3 `AsyncConnectionPool` (sizes from `system.database.*`), which hands out
  autocommit connections (callers open `conn.transaction()` for multi-statement writes),
  checks a connection before lending it (so the first operation after a server restart
  gets a fresh connection instead of a dead one) and `DISCARD ALL`s it when returned
  (no session state — SET, temp tables, cursors, locks — leaks to the next user);
- the single translation of psycopg failures into Precog's typed errors.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from precog.config.environment import (
    DatabaseTarget,
    Environment,
    check_database_guard,
    resolve_database_target,
    resolve_environment,
)
from precog.database import embedded
from precog.database.errors import (
    CheckViolationError,
    ConcurrencyConflictError,
    ConstraintViolationError,
    DatabaseAuthError,
    DatabaseBusyError,
    DatabaseUnavailableError,
    ExclusionViolationError,
    ForeignKeyViolationError,
    InvalidValueError,
    NotNullViolationError,
    PathOutsideAllowedDirError,
    PoolExhaustedError,
    SchemaNotCurrentError,
    UniqueViolationError,
)
from precog.errors import ConfigError, PrecogError

# psycopg_pool counters that grow when connections die (server restart, crash).
_LOSS_COUNTERS = ("connections_lost", "connections_errors", "returns_bad")
# A pool timeout this soon after connections died is the pool reconnecting, not exhaustion.
_RECONNECT_WINDOW_SECONDS = 60.0

RECONNECT_GIVE_UP_SECONDS = 2.0
_RESET_SESSION = (
    b"CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; "
    b"SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES"
)
# libpq reports connection-time refusals without a SQLSTATE: recognise them by message.
_AUTH_FAILURE = re.compile(
    r"authentication failed|role \"[^\"]*\" does not exist|no password supplied|"
    r"pg_hba\.conf rejects"
)
# A value that cannot be stored as given (too long, overflow, unparsable, a character the
# server cannot take: 22021 not in repertoire, 22P05 untranslatable, e.g. \u0000 in jsonb);
# other data errors, e.g. division by zero, are programming errors and stay psycopg's own.
_VALUE_SQLSTATES = {"22001", "22003", "22007", "22008", "22P02", "22021", "22P05"}
_AUTH_SQLSTATES = {"28P01", "28000"}  # invalid_password, invalid_authorization_specification
# The server is up but gave up waiting: lock_not_available (lock_timeout), query_canceled
# (statement_timeout).
_BUSY_SQLSTATES = {"55P03": "lock_timeout", "57014": "statement_timeout"}
# Operational errors that really mean "no server to talk to": connection exceptions (class
# 08), shutdowns and start-up (57P01-57P03), too many connections (53300); libpq's own
# connection failures carry no SQLSTATE at all.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


@dataclass(frozen=True)
class PoolSettings:
    """Pool sizing: config system.database.pool_min_size, pool_max_size, pool_timeout_seconds."""

    min_size: int = 1
    max_size: int = 10
    timeout: float = 10.0


def load_pool_settings() -> PoolSettings:
    """Pool sizes from the loaded configuration."""
    from precog.config.config_loader import ConfigLoader

    db = ConfigLoader().settings.system.database
    return PoolSettings(
        min_size=int(db.pool_min_size),
        max_size=int(db.pool_max_size),
        timeout=float(db.pool_timeout_seconds),
    )


def resolve_conninfo(
    target: DatabaseTarget, env: Environment, *, keep_embedded_running: bool = True
) -> str:
    """The connection string for `target`, after the guard; starts the embedded server if needed.

    Blocking (may start a server): async callers use `asyncio.to_thread`.
    """
    check_database_guard(env, target.dbname)
    if target.url is not None:
        return target.url
    assert target.embedded_home is not None  # resolve_database_target sets one or the other
    server = embedded.start_server(target.embedded_home, keep_running=keep_embedded_running)
    embedded.ensure_database(server, target.dbname)
    return server.url(target.dbname)


def resolve_inside(allowed_dir: Path, path: Path) -> Path:
    """`path` (relative to `allowed_dir` unless absolute) if it really lies inside `allowed_dir`.

    Refuses `..` components and anything whose resolved location (symlinks followed) is
    outside the directory, so a file argument can never read from elsewhere.
    """
    if ".." in path.parts:
        raise PathOutsideAllowedDirError(
            f"refusing {path}: '..' is not allowed; give a file inside {allowed_dir}"
        )
    candidate = path if path.is_absolute() else allowed_dir / path
    root = allowed_dir.resolve()
    real = candidate.resolve()
    if not real.is_relative_to(root):
        raise PathOutsideAllowedDirError(
            f"refusing {path}: it resolves to {real}, outside {root}; "
            f"put the file inside {allowed_dir}"
        )
    if not real.is_file():
        raise ConfigError(f"no such file {real}; put the SQL file inside {allowed_dir}")
    return real


def apply_sql_file(conninfo: str, allowed_dir: Path, path: Path) -> Path:
    """Run the SQL file `path` from `allowed_dir` in one transaction; returns the file run."""
    real = resolve_inside(allowed_dir, path)
    script = real.read_text(encoding="utf-8")
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(script.encode())  # no parameters: multi-statement scripts are allowed
    return real


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate_error(  # noqa: PLR0911 (one return per kind of failure)
    exc: BaseException, target: str
) -> PrecogError | None:
    """The typed Precog error for a psycopg failure (None if it is not a database failure).

    `target` is a masked description of the server, used in "unreachable" messages.
    """
    if isinstance(exc, PrecogError):
        return exc
    if isinstance(exc, psycopg.errors.IntegrityError):
        diag = exc.diag
        kinds: dict[type[BaseException], type[ConstraintViolationError]] = {
            psycopg.errors.NotNullViolation: NotNullViolationError,
            psycopg.errors.ForeignKeyViolation: ForeignKeyViolationError,
            psycopg.errors.CheckViolation: CheckViolationError,
            psycopg.errors.UniqueViolation: UniqueViolationError,
            psycopg.errors.ExclusionViolation: ExclusionViolationError,
        }
        cls = next((k for t, k in kinds.items() if isinstance(exc, t)), ConstraintViolationError)
        column = diag.column_name or _column_from_constraint(diag.constraint_name, diag.table_name)
        return cls(
            table=diag.table_name,
            column=column,
            constraint=diag.constraint_name,
            detail=_violation_detail(diag.message_detail, _first_line(exc)),
        )
    if isinstance(exc, psycopg.errors.DataError) and (
        exc.sqlstate in _VALUE_SQLSTATES or exc.sqlstate is None  # None: psycopg's NUL check
    ):
        diag = exc.diag
        return InvalidValueError(
            table=diag.table_name,
            column=diag.column_name,
            constraint=None,
            detail=_first_line(exc),
        )
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate cannot be sent as UTF-8
        return InvalidValueError(
            table=None,
            column=None,
            constraint=None,
            detail=f"text with a character that is not valid UTF-8 ({exc.reason}); "
            "fix the encoding of the input",
        )
    if isinstance(exc, psycopg.errors.ProgramLimitExceeded):
        # 54000, e.g. a key too long for its unique index: the input is at fault.
        return InvalidValueError(
            table=exc.diag.table_name,
            column=exc.diag.column_name,
            constraint=exc.diag.constraint_name,
            detail=f"{_first_line(exc)}; shorten the value",
        )
    if isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
        # OperationalError subclasses, but the server is up: the transaction lost a race.
        return ConcurrencyConflictError(
            f"the transaction lost a conflict with a concurrent one at {target} "
            f"({_first_line(exc)}); nothing from it was saved, retry the operation"
        )
    if isinstance(exc, psycopg.OperationalError):
        sqlstate = exc.sqlstate
        if sqlstate in _AUTH_SQLSTATES or _AUTH_FAILURE.search(str(exc)):
            return DatabaseAuthError(
                f"database authentication failed for {target}: {_first_line(exc)}; "
                "check the user and password in DATABASE_URL"
            )
        if sqlstate in _BUSY_SQLSTATES:
            return DatabaseBusyError(
                f"the database at {target} gave up waiting ({_BUSY_SQLSTATES[sqlstate]}: "
                f"{_first_line(exc)}); nothing was saved, retry the operation later or "
                f"raise {_BUSY_SQLSTATES[sqlstate]}"
            )
        if sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
            return DatabaseUnavailableError(
                f"database server unreachable at {target}: {_first_line(exc)}; "
                "start PostgreSQL or fix DATABASE_URL"
            )
        return PrecogError(
            f"the database at {target} failed the operation ({sqlstate}: {_first_line(exc)}); "
            "nothing from it was saved"
        )
    return None


def _violation_detail(detail: str | None, primary: str) -> str:
    # "Failing row contains (...)" repeats the whole row: the primary message is the useful part.
    if not detail or detail.startswith("Failing row contains"):
        return primary
    return detail


def _column_from_constraint(constraint: str | None, table: str | None) -> str | None:
    # CHECK and FK constraints are named ck_<table>_<column>[...] / fk_<table>_<column> by the
    # migrations, so the column can be named even though PostgreSQL reports only the constraint.
    if not constraint or not table:
        return None
    for prefix in (f"ck_{table}_", f"fk_{table}_"):
        if constraint.startswith(prefix):
            rest = constraint[len(prefix) :]
            return rest.split("__", 1)[0] or None
    return None


@dataclass(frozen=True)
class Health:
    """Result of `Database.health()`; never raises, reports the problem instead."""

    ok: bool
    target: str
    latency_ms: float | None
    server_version: str | None
    pool_size: int
    pool_available: int
    error: str | None = None


class Database:
    """The process's pool of connections to one guarded database target."""

    def __init__(
        self,
        conninfo: str,
        *,
        env: Environment,
        description: str,
        settings: PoolSettings | None = None,
        name: str = "precog",
    ) -> None:
        self.settings = settings or PoolSettings()
        self.env = env
        self.description = description
        self._conninfo = conninfo
        self._losses_seen = 0  # connection losses counted when last looked at
        self._losses_changed_at = -math.inf  # monotonic time they were last seen growing
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            conninfo,
            min_size=self.settings.min_size,
            max_size=self.settings.max_size,
            timeout=self.settings.timeout,
            open=False,
            configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            reset=self._reset,
            name=name,
            # Give up a failed reconnect quickly: the next borrower then triggers a fresh,
            # immediate attempt instead of waiting out an ever longer backoff after an outage.
            reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
        )

    @classmethod
    async def open(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        settings: PoolSettings | None = None,
        keep_embedded_running: bool = True,
    ) -> Database:
        """Resolve the target from the environment, guard it, probe it and open the pool."""
        environ = os.environ if environ is None else environ
        env = resolve_environment(environ)
        target = resolve_database_target(environ)
        conninfo = await asyncio.to_thread(
            resolve_conninfo, target, env, keep_embedded_running=keep_embedded_running
        )
        if settings is None:
            settings = load_pool_settings()
        db = cls(conninfo, env=env, description=target.describe(), settings=settings)
        await db.start()
        return db

    async def start(self) -> None:
        """Probe the server (fast, typed failure) and fill the pool to its minimum size."""
        await self._probe()
        try:
            await self._pool.open(wait=True, timeout=self.settings.timeout)
        except PoolTimeout as exc:
            await self._pool.close()
            raise DatabaseUnavailableError(
                f"database server at {self.description} did not accept "
                f"{self.settings.min_size} connections within {self.settings.timeout}s"
            ) from exc

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _configure(self, conn: AsyncConnection[Any]) -> None:
        await conn.set_autocommit(True)
        # The guard on what the server says we are connected to, not only on the URL we used.
        cur = await conn.execute("SELECT current_database()")
        row = await cur.fetchone()
        assert row is not None
        check_database_guard(self.env, str(row[0]))

    @staticmethod
    async def _reset(conn: AsyncConnection[Any]) -> None:
        if not conn.autocommit:
            await conn.set_autocommit(True)
        # DISCARD ALL minus DEALLOCATE ALL: psycopg's own prepared statements must survive.
        await conn.execute(_RESET_SESSION)

    async def _probe(self) -> None:
        try:
            conn = await AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=max(2, int(self.settings.timeout))
            )
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        try:
            await self._configure(conn)
        finally:
            await conn.close()

    def _translate(self, exc: BaseException) -> PrecogError:
        translated = translate_error(exc, self.description)
        if translated is None:
            return DatabaseUnavailableError(
                f"database error at {self.description}: {_first_line(exc)}"
            )
        return translated

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """Borrow an autocommit connection; psycopg failures come out as typed Precog errors."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            # Either every connection is busy, or the server is gone and none can be made:
            # a direct probe tells the two apart (and names the real cause).
            await self._probe()
            if self._recently_lost_connections():
                # The server is back, but the pool is still replacing the connections it
                # lost. (Without losses a timeout is exhaustion, also while the pool is
                # still growing under load.)
                raise DatabaseUnavailableError(
                    f"database at {self.description} is reachable again but the pool has not "
                    f"reconnected within {self.settings.timeout}s; retry the operation"
                ) from exc
            raise PoolExhaustedError(
                f"database pool exhausted: all {self.settings.max_size} connections to "
                f"{self.description} stayed busy for {self.settings.timeout}s; raise "
                "system.database.pool_max_size or pool_timeout_seconds, or lower concurrency",
                pool_size=self.settings.max_size,
                timeout=self.settings.timeout,
            ) from exc
        except (psycopg.Error, UnicodeEncodeError) as exc:
            translated = translate_error(exc, self.description)
            if translated is None:
                raise
            raise translated from exc

    async def require_current_schema(self) -> None:
        """Refuse to work on a database whose schema is not at the packaged migrations' head.

        Without this, a command on a fresh or outdated database fails deep inside a query
        ("relation ... does not exist"); this says what to do instead.
        """
        from precog.database.migrate import current_revision, head_revision

        head = head_revision()
        try:
            current = await asyncio.to_thread(current_revision, self._conninfo)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
        if current != head:
            raise SchemaNotCurrentError(
                f"the database at {self.description} is at schema revision "
                f"{current or 'base (empty)'} but this Precog needs {head}: "
                "run `precog db upgrade`"
            )

    def _recently_lost_connections(self) -> bool:
        stats = self.stats()
        losses = sum(stats.get(k, 0) for k in _LOSS_COUNTERS)
        now = time.monotonic()
        if losses != self._losses_seen:
            self._losses_seen, self._losses_changed_at = losses, now
        return now - self._losses_changed_at < _RECONNECT_WINDOW_SECONDS

    def stats(self) -> dict[str, int]:
        """Pool counters (psycopg_pool names: pool_size, pool_available, requests_waiting...)."""
        return dict(self._pool.get_stats())

    async def health(self) -> Health:
        """Round-trip a query through the pool; report latency, version and pool occupancy."""
        stats = self._pool.get_stats()
        started = time.monotonic()
        try:
            async with self.connection() as conn:
                cur = await conn.execute("SHOW server_version")
                row = await cur.fetchone()
        except PrecogError as exc:
            return Health(
                ok=False,
                target=self.description,
                latency_ms=None,
                server_version=None,
                pool_size=stats.get("pool_size", 0),
                pool_available=stats.get("pool_available", 0),
                error=str(exc),
            )
        return Health(
            ok=True,
            target=self.description,
            latency_ms=round((time.monotonic() - started) * 1000, 3),
            server_version=str(row[0]) if row else None,
            pool_size=stats.get("pool_size", 0),
            pool_available=stats.get("pool_available", 0),
        )
