"""A scratch database for benchmarks: embedded PostgreSQL in build/bench-postgres.

Started here and stopped when the process exits; a fresh, migrated database per call, so
nothing a user keeps (their $PRECOG_HOME) is touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from benchmarks.suite import ROOT

DATA_DIR = ROOT / "build" / "bench-postgres"


def fresh_database(name: str) -> str:
    """Create (or re-create) database `name` on the benchmark server, migrated; its URL."""
    import psycopg

    from precog.database import embedded, migrate

    embedded.ensure_runtime_dir()
    server = embedded.start_server(DATA_DIR, keep_running=False)
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = server.url(name)
    migrate.upgrade(url)
    return url


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


@asynccontextmanager
async def database(url: str) -> AsyncIterator[Any]:
    """A started `Database` (the project's pool, dev rules) on a scratch URL."""
    from precog.config.environment import Environment
    from precog.database.connection import Database, PoolSettings

    db = Database(
        url, env=Environment.DEV, description="benchmark", settings=PoolSettings(1, 2, 120)
    )
    await db.start()
    async with db:
        yield db
