"""`precog config show|validate` and `precog env`: inspect configuration and environment.

Secrets never appear in the output: configuration values under secret-looking keys are
masked, the database URL's password is masked, and credentials are reported only as
"set" / "not set".
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from precog.config.config_loader import ConfigLoader

config_app = typer.Typer(help="Show and validate the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
    app.command("env")(env_command)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _loader() -> ConfigLoader:
    from precog.config.config_loader import ConfigLoader

    return ConfigLoader()


@config_app.command("show")
def show_command(
    file: str | None = typer.Argument(
        None, help="One file: system, data_sources, markets, ... (default: all)."
    ),
    key: str | None = typer.Option(
        None, "--key", help="Dotted key, e.g. kalshi.mode (relative to FILE if given)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """Show the merged configuration (defaults < PRECOG_CONFIG_DIR < PRECOG__* variables)."""
    from precog.config.config_loader import lookup
    from precog.config.yaml_loader import dump_yaml

    loader = _loader()
    data: Any = loader.as_dict(file)
    if key is not None:
        lookup(loader.settings, f"{file}.{key}" if file else key)  # unknown key: clear error
        for part in key.split("."):
            data = data[part]  # walk the masked view, so a secret stays masked
    if as_json:
        _print_json(data)
    elif isinstance(data, dict | list | tuple):
        typer.echo(dump_yaml(data), nl=False)
    else:
        typer.echo(dump_yaml(data).removesuffix("\n...\n").rstrip("\n"))


@config_app.command("validate")
def validate_command() -> None:
    """Validate every configuration file and PRECOG__* override; exit 2 on any problem."""
    from precog.config.config_loader import InvalidConfigError
    from precog.config.schemas import SECTIONS

    try:
        _loader()
    except InvalidConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(f"ok: {len(SECTIONS)} files valid")


def env_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the environment, database target, Kalshi mode and credentials (never values)."""
    from precog.config import environment as envrules
    from precog.errors import EnvironmentSafetyError

    environ = os.environ
    env = envrules.resolve_environment(environ)
    target = envrules.resolve_database_target(environ)
    loader = _loader()
    mode = envrules.resolve_kalshi_mode(environ, loader.settings.data_sources.kalshi.mode)
    refusal: EnvironmentSafetyError | None = None
    try:
        envrules.check_kalshi_safety(env, mode, environ)
        envrules.check_database_guard(env, target.dbname)
    except EnvironmentSafetyError as exc:
        refusal = exc
    credentials = {
        name: bool(environ.get(name)) for name in envrules.kalshi_credential_variables(env)
    }
    report = {
        "environment": env.value,
        "database": {
            "target": target.describe(),
            "dbname": target.dbname,
            "embedded": target.url is None,
        },
        "kalshi_mode": mode.value,
        "kalshi_credentials": credentials,
        "config_dir": str(loader.config_dir) if loader.config_dir else None,
        "precog_home": str(envrules.precog_home(environ)),
        "safety": "ok" if refusal is None else f"refused: {refusal}",
    }
    if as_json:
        _print_json(report)
    else:
        _print_env(report, risky=env in (envrules.Environment.STAGING, envrules.Environment.PROD))
    if refusal is not None:
        raise refusal


def _print_env(report: dict[str, Any], *, risky: bool) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    console = Console()
    if risky:
        console.print(
            Panel(
                f"PRECOG_ENV={report['environment']}: commands here touch real data"
                + (" and real money" if report["kalshi_mode"] == "live" else ""),
                title="RISK",
                style="bold white on red",
            )
        )
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("environment", report["environment"])
    table.add_row("database", report["database"]["target"])
    table.add_row("kalshi mode", report["kalshi_mode"])
    for name, present in report["kalshi_credentials"].items():
        table.add_row(name, "set" if present else "not set")
    table.add_row("config dir", report["config_dir"] or "(packaged defaults only)")
    table.add_row("precog home", report["precog_home"])
    table.add_row("safety", report["safety"])
    console.print(table)
