"""`precog models ...`: versioned probability models from the command line.

    precog models create NAME VERSION --class CLASS --config FILE [--description T] [--json]
    precog models list [--name N] [--status S] [--class C] [--json]
    precog models show NAME [VERSION] [--json]         (no VERSION: the highest version)
    precog models test|activate|deprecate NAME VERSION [--json]
    precog models metrics NAME VERSION [--accuracy A --calibration C --samples N] [--json]

The config file is YAML (`.yaml`, `.yml`) or JSON (`.json`); numbers with a fraction are read
as exact decimals. `--json` output writes config and metrics numbers as JSON numbers with
every digit (parse them as decimals). Model errors (unknown class, duplicate version, illegal
transition, changed config, unknown model, invalid input) exit with code 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from precog.analytics.model_manager import ModelManager
    from precog.database.crud_operations.models import ModelRow

T = TypeVar("T")

models_app = typer.Typer(
    help="Versioned probability models: create, list, show, lifecycle, metrics.",
    no_args_is_help=True,
)
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
NAME = typer.Argument(..., help="Model name.")
VERSION = typer.Argument(..., help="Version, MAJOR[.MINOR[.PATCH]].")
CONFIG_FILE = typer.Option(..., "--config", help="YAML or JSON file with the config.")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


# ------------------------------------------------------------------ plumbing
def _with_manager(work: Callable[[ModelManager], Awaitable[T]]) -> T:
    async def run() -> T:
        from precog.analytics.model_manager import ModelManager
        from precog.config.config_loader import ConfigLoader
        from precog.database.connection import Database

        allowed = ConfigLoader().settings.probability_models.model_classes
        db = await Database.open(os.environ)
        async with db:
            await db.require_current_schema()
            return await work(ModelManager(db, allowed_classes=allowed))

    from precog.utils import event_loop

    return event_loop.run(run())


def read_config_file(path: Path) -> dict[str, Any]:
    """The config in a YAML or JSON file, fractional numbers as `Decimal`."""
    from precog.config.yaml_loader import parse_yaml
    from precog.errors import ConfigError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        data = parse_yaml(text, str(path))
    elif suffix == ".json":

        def refuse(constant: str) -> Any:
            raise ConfigError(f"{path}: {constant} is not a number; give a finite number")

        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=refuse)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
    else:
        raise ConfigError(f"config file {path} must end in .yaml, .yml or .json")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of settings (key: value), "
            f"found {'nothing' if data is None else type(data).__name__}"
        )
    return data


def _as_dict(row: ModelRow) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "name": row.name,
        "version": row.version,
        "model_class": row.model_class,
        "status": row.status,
        "description": row.description,
        "config": row.config,
        "metrics": row.metrics,
        **{
            key: None if value is None else value.isoformat()
            for key, value in (
                ("created_at", row.created_at),
                ("testing_at", row.testing_at),
                ("activated_at", row.activated_at),
                ("deprecated_at", row.deprecated_at),
            )
        },
    }


def _print_json(data: Any) -> None:
    from precog.database.crud_operations.models import dumps_exact

    typer.echo(dumps_exact(data))


def _print_model(row: ModelRow) -> None:
    from precog.config.yaml_loader import dump_yaml

    data = _as_dict(row)
    config = data.pop("config")
    metrics = data.pop("metrics")
    for key, value in data.items():
        if value is not None:
            typer.echo(f"{key}: {value}")
    typer.echo("config:")
    typer.echo("  " + dump_yaml(config).rstrip("\n").replace("\n", "\n  "))
    if metrics is not None:
        typer.echo("metrics: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))


def _emit(row: ModelRow, as_json: bool, message: str) -> None:
    if as_json:
        _print_json(_as_dict(row))
    else:
        typer.echo(message)


# ------------------------------------------------------------------ commands
@models_app.command("create")
def create(  # noqa: PLR0917 (Typer options are parameters)
    name: str = NAME,
    version: str = VERSION,
    model_class: str = typer.Option(..., "--class", help="Model class, e.g. elo."),
    config: Path = CONFIG_FILE,
    description: str | None = typer.Option(None, "--description", help="Free text."),
    as_json: bool = AS_JSON,
) -> None:
    """Store a new draft version; its class and config can never change afterwards."""
    data = read_config_file(config)
    row = _with_manager(lambda m: m.create(name, version, model_class, data, description))
    what = f"{row.name} {row.version} ({row.model_class}, draft, id {row.model_id})"
    _emit(row, as_json, f"created {what}")


@models_app.command("list")
def list_models(
    name: str | None = typer.Option(None, "--name", help="Only this model name."),
    status: str | None = typer.Option(None, "--status", help="draft|testing|active|deprecated"),
    model_class: str | None = typer.Option(None, "--class", help="Only this model class."),
    as_json: bool = AS_JSON,
) -> None:
    """Model versions, by name and semantic version (1.10 after 1.9)."""
    rows = _with_manager(lambda m: m.list(name=name, status=status, model_class=model_class))
    if as_json:
        _print_json([_as_dict(r) for r in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Probability models")
    for column in ("name", "version", "class", "status", "activated_at", "accuracy"):
        table.add_column(column)
    for r in rows:
        accuracy = "" if r.metrics is None else str(r.metrics.get("accuracy", ""))
        activated = "" if r.activated_at is None else r.activated_at.isoformat()
        table.add_row(r.name, r.version, r.model_class, r.status, activated, accuracy)
    console = Console()
    if rows:
        console.print(table)
    console.print(f"{len(rows)} model versions")


@models_app.command("show")
def show(
    name: str = NAME,
    version: str | None = typer.Argument(None, help="Version (default: the highest)."),
    as_json: bool = AS_JSON,
) -> None:
    """One model version with its config and metrics (default: its highest version)."""
    from precog.analytics.model_manager import ModelNotFoundError

    async def load(manager: ModelManager) -> ModelRow:
        if version is not None:
            return await manager.get_version(name, version)
        row = await manager.latest(name)
        if row is None:
            raise ModelNotFoundError(f"no model named {name}; see `precog models list`")
        return row

    row = _with_manager(load)
    if as_json:
        _print_json(_as_dict(row))
    else:
        _print_model(row)


@models_app.command("test")
def start_testing(name: str = NAME, version: str = VERSION, as_json: bool = AS_JSON) -> None:
    """Move a draft version to testing."""
    row = _with_manager(lambda m: m.start_testing(name, version))
    _emit(row, as_json, f"{row.name} {row.version} is now testing")


@models_app.command("activate")
def activate(name: str = NAME, version: str = VERSION, as_json: bool = AS_JSON) -> None:
    """Make a tested version the active one; the previously active version is deprecated."""
    row = _with_manager(lambda m: m.activate(name, version))
    _emit(row, as_json, f"{row.name} {row.version} is now active")


@models_app.command("deprecate")
def deprecate(name: str = NAME, version: str = VERSION, as_json: bool = AS_JSON) -> None:
    """Retire a version (final)."""
    row = _with_manager(lambda m: m.deprecate(name, version))
    _emit(row, as_json, f"{row.name} {row.version} is now deprecated")


def _decimal(option: str, text: str) -> Decimal:
    from precog.analytics.model_manager import InvalidModelInputError

    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidModelInputError(f"{option} {text!r} is not a decimal number") from None


@models_app.command("metrics")
def metrics(  # noqa: PLR0917 (Typer options are parameters)
    name: str = NAME,
    version: str = VERSION,
    accuracy: str | None = typer.Option(None, "--accuracy", help="Accuracy in [0, 1]."),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Calibration error in [0, 1]."
    ),
    samples: int | None = typer.Option(None, "--samples", help="Sample size (>= 1)."),
    as_json: bool = AS_JSON,
) -> None:
    """Record a version's metrics (all three options), or show them (no option)."""
    from precog.analytics.model_manager import InvalidModelInputError, ModelMetrics

    given = [v is not None for v in (accuracy, calibration, samples)]
    if any(given) and not all(given):
        raise InvalidModelInputError(
            "give all of --accuracy, --calibration and --samples to record metrics, "
            "or none to show them"
        )
    if accuracy is not None and calibration is not None and samples is not None:
        values = ModelMetrics(
            accuracy=_decimal("--accuracy", accuracy),
            calibration=_decimal("--calibration", calibration),
            sample_size=samples,
            evaluated_at=datetime.now(UTC),
        )
        row = _with_manager(lambda m: m.record_metrics(name, version, values))
    else:
        row = _with_manager(lambda m: m.get_version(name, version))
    if as_json:
        _print_json({"name": row.name, "version": row.version, "metrics": row.metrics})
    elif row.metrics is None:
        typer.echo(f"{row.name} {row.version} has no metrics yet")
    else:
        shown = ", ".join(f"{k}={v}" for k, v in row.metrics.items())
        typer.echo(f"{row.name} {row.version}: {shown}")


__all__ = ["models_app", "read_config_file", "register"]
