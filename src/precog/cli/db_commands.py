"""`precog db ...`: schema migrations, status, reset, seed files and the embedded server.

    precog db upgrade [--revision REV]          apply migrations (idempotent)
    precog db downgrade [--revision REV] [--yes] revert migrations (guarded, destructive)
    precog db status [--json]                   current/pending revisions and table counts
    precog db reset [--yes]                     drop everything and migrate to head (guarded)
    precog db seed FILE                         run a SQL file from $PRECOG_HOME/seeds
    precog db history TABLE KEY... [--at T] [--json]  SCD2 versions of one business key
    precog db stop                              stop the embedded server (if one is running)

Without DATABASE_URL the embedded server under $PRECOG_HOME/postgres is started on first
use and keeps running after the command exits, so the next command reuses it.
Destructive commands refuse staging/prod unless PRECOG_PROD_CONFIRMED=yes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

db_app = typer.Typer(help="Database schema, status and the embedded server.", no_args_is_help=True)


@contextmanager
def _translated(description: str) -> Iterator[None]:
    """psycopg failures -> Precog's typed one-line errors (the CLI prints them)."""
    import psycopg

    from precog.database.connection import translate_error

    try:
        yield
    except psycopg.Error as exc:
        translated = translate_error(exc, description)
        if translated is None:
            raise
        raise translated from exc


def _conninfo() -> tuple[str, str]:
    """(conninfo, masked description) of the guarded target; starts the embedded server."""
    from precog.config.environment import resolve_database_target, resolve_environment
    from precog.database.connection import resolve_conninfo
    from precog.database.embedded import ensure_runtime_dir

    ensure_runtime_dir()
    env = resolve_environment(os.environ)
    target = resolve_database_target(os.environ)
    with _translated(target.describe()):
        return resolve_conninfo(target, env), target.describe()


def _confirm_destructive(action: str, yes: bool) -> None:
    from precog.config.environment import require_destructive_allowed, resolve_environment

    env = resolve_environment(os.environ)
    require_destructive_allowed(env, os.environ, action)
    if not yes:
        typer.confirm(f"{action} in environment {env}? All data in it is lost.", abort=True)


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", "--revision", help="Target revision."),
) -> None:
    """Apply migrations up to REVISION (default head); running it twice changes nothing."""
    from precog.database import migrate

    conninfo, description = _conninfo()
    with _translated(description):
        before = migrate.current_revision(conninfo)
        migrate.upgrade(conninfo, revision)
        after = migrate.current_revision(conninfo)
    if before == after:
        typer.echo(f"database {description} already at {after}")
    else:
        typer.echo(f"database {description} upgraded {before or 'base'} -> {after}")


@db_app.command("downgrade")
def downgrade(
    revision: str = typer.Option("-1", "--revision", help="Target revision (base = empty)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Revert migrations down to REVISION (default: one step). Destroys data."""
    from precog.database import migrate

    _confirm_destructive(f"downgrade the database to {revision}", yes)
    conninfo, description = _conninfo()
    with _translated(description):
        before = migrate.current_revision(conninfo)
        if before is None:
            typer.echo(f"database {description} is already at base")
            return
        migrate.downgrade(conninfo, revision)
        after = migrate.current_revision(conninfo)
    typer.echo(f"database {description} downgraded {before} -> {after or 'base'}")


@db_app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the current revision, pending revisions and row counts per table."""
    from precog.database import migrate

    conninfo, description = _conninfo()
    with _translated(description):
        state = migrate.status(conninfo)
    if as_json:
        payload = {
            "target": description,
            "current": state.current,
            "head": state.head,
            "pending": list(state.pending),
            "up_to_date": state.up_to_date,
            "tables": state.table_counts,
        }
        typer.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    typer.echo(f"database: {description}")
    typer.echo(f"revision: {state.current or 'base (empty)'}   head: {state.head}")
    typer.echo(f"pending:  {', '.join(state.pending) if state.pending else 'none'}")
    if state.table_counts:
        width = max(len(name) for name in state.table_counts)
        typer.echo("tables:")
        for name, count in state.table_counts.items():
            typer.echo(f"  {name:<{width}}  {count:>10}")


@db_app.command("reset")
def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Drop the whole schema and migrate to head again. Destroys all data."""
    from precog.database import migrate

    _confirm_destructive("reset the database", yes)
    conninfo, description = _conninfo()
    with _translated(description):
        migrate.downgrade(conninfo, "base")
        migrate.upgrade(conninfo, "head")
        head = migrate.current_revision(conninfo)
    typer.echo(f"database {description} reset to {head}")


@db_app.command("seed")
def seed(
    file: Annotated[Path, typer.Argument(help="SQL file inside $PRECOG_HOME/seeds.")],
) -> None:
    """Run a seed SQL file; only files inside $PRECOG_HOME/seeds are accepted."""
    from precog.config.environment import precog_home
    from precog.database.connection import apply_sql_file

    seeds_dir = precog_home(os.environ) / "seeds"
    conninfo, description = _conninfo()
    with _translated(description):
        applied = apply_sql_file(conninfo, seeds_dir, file)
    typer.echo(f"applied {applied} to {description}")


@db_app.command("history")
def history(
    table: Annotated[
        str, typer.Argument(help="markets | account_balance | positions | game_states")
    ],
    key: Annotated[
        list[str] | None, typer.Argument(help="Business key, e.g. a market ticker.")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Only the version valid at this ISO time.")
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the SCD2 history of one business key (every version, or the one valid --at)."""
    from precog.database import crud_operations
    from precog.database.connection import Database
    from precog.errors import ConfigError
    from precog.utils import event_loop

    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise ConfigError(f"--at {at!r} is not an ISO date-time") from None
        if when.tzinfo is None:
            raise ConfigError(f"--at {at!r} needs a timezone, e.g. {at}+00:00")

    async def load() -> list[Any]:
        db = await Database.open(os.environ)
        async with db:
            await db.require_current_schema()
            async with db.connection() as conn:
                return await crud_operations.scd2_history(conn, table, key or [], at=when)

    rows = event_loop.run(load())
    records = [{k: _plain(v) for k, v in dataclasses.asdict(row).items()} for row in rows]
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    if not records:
        typer.echo(f"no {table} versions for {' '.join(key or [])}")
        return
    for record in records:
        period = f"{record['row_start_ts']} -> {record['row_end_ts'] or 'current'}"
        fields = ", ".join(
            f"{k}={v}"
            for k, v in record.items()
            if k not in ("row_start_ts", "row_end_ts", "row_current_ind") and v is not None
        )
        typer.echo(f"{period}  {fields}")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@db_app.command("stop")
def stop() -> None:
    """Stop the embedded PostgreSQL server of this PRECOG_HOME (no-op with DATABASE_URL)."""
    from precog.config.environment import resolve_database_target
    from precog.database import embedded

    embedded.ensure_runtime_dir()
    target = resolve_database_target(os.environ)
    if target.embedded_home is None:
        typer.echo("DATABASE_URL is set: no embedded server to stop")
        return
    stopped = embedded.stop_server(target.embedded_home)
    typer.echo(
        f"stopped the embedded server in {target.embedded_home}"
        if stopped
        else f"no embedded server running in {target.embedded_home}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
