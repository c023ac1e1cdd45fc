"""The `precog` command: Typer app assembly and the error -> exit code boundary.

Command groups live one per file in this package and import their heavy dependencies
inside the command functions, so `precog --help` and `precog --version` start fast.
"""

from __future__ import annotations

import sys

import typer

from precog.errors import EXIT_RUNTIME, PrecogError

app = typer.Typer(
    name="precog",
    help="Precog: Kalshi and ESPN data collection with full history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from precog import __version__

        typer.echo(f"precog {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Precog: Kalshi and ESPN data collection with full history."""
    from precog.config.config_loader import ConfigLoader
    from precog.errors import ConfigError
    from precog.utils.logger import configure_logging, get_logger

    try:
        settings = ConfigLoader().settings.system.logging
    except ConfigError:
        configure_logging()  # console only; the command itself reports the config problem
    else:
        configure_logging(
            settings.level,
            log_dir=settings.dir,
            json_file=settings.json_file,
            max_bytes=settings.max_bytes,
            backup_count=settings.backup_count,
            console=settings.console,  # on stderr, so `--json` output on stdout stays clean
        )
    get_logger("precog.cli").debug("command started", argv=sys.argv[1:])


def _register_commands() -> None:
    # Each command group is one module exposing `register(app)`; heavy imports stay inside
    # the commands themselves.
    from precog.cli import (
        bench_commands,
        config_commands,
        db_commands,
        espn_commands,
        fetch_commands,
        markets_commands,
        model_commands,
        run_commands,
        sandbox_commands,
        stream_commands,
    )

    for group in (
        config_commands,
        db_commands,
        sandbox_commands,
        fetch_commands,
        stream_commands,
        espn_commands,
        run_commands,
        markets_commands,
        model_commands,
        bench_commands,
    ):
        group.register(app)
    # Plain help text: Typer's Rich help formatter costs ~170 ms of imports per `--help`,
    # which would break the 0.5 s start-up target (benchmark cli_startup).
    app.rich_markup_mode = None
    for info in app.registered_groups:
        if info.typer_instance is not None:
            info.typer_instance.rich_markup_mode = None


_register_commands()


def main() -> None:
    """Entry point of the console script: run the app, map expected errors to exit codes."""
    try:
        from dotenv import load_dotenv

        load_dotenv(override=False)
        app()
    except PrecogError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:  # an unexpected OS failure still gets one line, not a traceback
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_RUNTIME)
