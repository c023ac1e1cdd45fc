"""`precog bench [NAME...] [--quick] [--full] [--json]`: run the benchmark suite.

The suite lives in the source checkout's `benchmarks/` package (it writes its results to
`benchmarks/results/`), so the command needs that checkout next to the installed `src/`.
Exit codes: 0 ran (the table says which targets were met), 1 a benchmark failed,
2 an unknown benchmark name or no checkout.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from precog.errors import ConfigError


def checkout_root() -> Path:
    """The source checkout holding `benchmarks/` (an editable install's repository)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "benchmarks" / "runner.py").is_file():
        raise ConfigError(
            "precog bench needs the source checkout (benchmarks/ next to src/); "
            "run it from an editable install of the repository (make install)"
        )
    return root


def bench_command(
    names: list[str] = typer.Argument(  # noqa: B008 - typer declares arguments this way
        None, metavar="NAME", help="Benchmarks to run (default: all)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke run in seconds."),
    full: bool = typer.Option(False, "--full", help="The largest sizes (10M-row SCD2 table)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON on stdout."),
    save: bool = typer.Option(True, "--save/--no-save", help="Append to benchmarks/results/."),
) -> None:
    """Measure every hot path against a reference in the same run; print figure and ratio."""
    root = str(checkout_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    runner = importlib.import_module("benchmarks.runner")
    try:
        runner.select(names or [])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    status = int(runner.run(names or [], quick=quick, full=full, as_json=as_json, keep=save))
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
