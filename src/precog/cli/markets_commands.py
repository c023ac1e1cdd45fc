"""`precog markets history [TICKER] [--since ISO] [--json] [--plot out.png]`.

The stored SCD2 versions of one market (without TICKER: the market with the most stored
versions, the liveliest one to look at), oldest first: when each began and ended, its status
and prices. `--plot` draws the YES bid/ask band and the last price over time (matplotlib,
Agg backend: no display needed) and writes a PNG. Exit 2 for a market with no history or a
bad `--since`, 4 when the database is unavailable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from precog.errors import ConfigError

if TYPE_CHECKING:
    from precog.database.records import MarketRow

markets_app = typer.Typer(help="Stored market data.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(markets_app, name="markets")


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not an ISO time; use e.g. 2026-11-30T12:00:00+00:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@markets_app.command("history")
def history_command(
    ticker: str = typer.Argument("", help="Market ticker (default: the most-versioned one)."),
    since: str | None = typer.Option(None, "--since", help="Only versions valid after this."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot_to: str | None = typer.Option(None, "--plot", help="Write a price chart to this PNG."),
) -> None:
    """Every stored version of one market; optionally a price chart."""
    plot = None if plot_to is None else Path(plot_to)
    from precog.utils import event_loop

    ticker, rows = event_loop.run(_history(ticker, _since(since)))
    if not rows:
        raise ConfigError(
            f"no stored history for market {ticker!r}"
            + (" in that period" if since else "")
            + "; check the ticker, or collect it with `precog run` / `precog fetch markets`"
        )
    if plot is not None:
        _plot(ticker, rows, plot)
    records = [_record(r) for r in rows]
    if as_json:
        typer.echo(json.dumps({"ticker": ticker, "versions": records}, indent=2))
    else:
        _table(ticker, records)
    if plot is not None:
        typer.echo(f"chart written to {plot}", err=as_json)


async def _history(ticker: str, since: dt.datetime | None) -> tuple[str, list[MarketRow]]:
    from precog.database import crud_operations as crud
    from precog.database.connection import Database

    db = await Database.open(os.environ)
    async with db:
        await db.require_current_schema()
        async with db.connection() as conn:
            if not ticker:
                cur = await conn.execute(
                    "SELECT ticker FROM markets GROUP BY ticker "
                    "ORDER BY count(*) DESC, ticker LIMIT 1"
                )
                row = await cur.fetchone()
                if row is None:
                    raise ConfigError(
                        "no market history stored yet; collect some with `precog run`"
                    )
                ticker = str(row[0])
            rows = await crud.get_market_history(conn, ticker)
    if since is not None:
        rows = [r for r in rows if r.row_end_ts is None or r.row_end_ts > since]
    return ticker, rows


FIELDS = ("row_start_ts", "row_end_ts", "status", "yes_bid", "yes_ask", "no_bid", "no_ask",
          "last_price", "volume")  # fmt: skip


def _record(row: MarketRow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, dt.datetime) else (
            None if value is None else str(value)
        )  # fmt: skip
    return out


TABLE = ("row_start_ts", "row_end_ts", "status", "yes_bid", "yes_ask", "last_price", "volume")


def _short_time(text: str | None) -> str:
    if text is None:
        return ""
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")


def _table(ticker: str, records: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # the table fits a terminal (times to the second); --json has every field exactly
    table = Table(title=f"{ticker}: {len(records)} versions (UTC)", box=box.SIMPLE_HEAD)
    rows = [
        [_short_time(r["row_start_ts"]), _short_time(r["row_end_ts"])]
        + ["" if r[n] is None else str(r[n]) for n in TABLE[2:]]
        for r in records
    ]
    for index, name in enumerate(TABLE):
        title = name.removeprefix("row_").removesuffix("_ts")
        width = max([len(title), *(len(row[index]) for row in rows)])
        table.add_column(title, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _plot(ticker: str, rows: list[MarketRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    # A version holds from its start until the next one starts: draw steps, not lines.
    times = [r.row_start_ts for r in rows]
    end = rows[-1].row_end_ts or dt.datetime.now(dt.UTC)
    times_ext = mdates.date2num([*times, end])  # type: ignore[no-untyped-call]

    def series(name: str) -> list[float]:
        values = [getattr(r, name) for r in rows]
        # matplotlib draws floats; the stored values stay exact Decimals
        return [float("nan") if v is None else float(v) for v in [*values, values[-1]]]

    fig, ax = plt.subplots(figsize=(10, 4))
    bid, ask = series("yes_bid"), series("yes_ask")
    ax.fill_between(times_ext, bid, ask, step="post", alpha=0.3, label="YES bid/ask")
    ax.step(times_ext, series("last_price"), where="post", label="last price")
    ax.set_title(f"{ticker} ({len(rows)} versions)")
    ax.set_ylabel("dollars")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.xaxis_date()
    fig.autofmt_xdate()
    try:
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise ConfigError(f"cannot write the chart to {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)


__all__ = ["register"]
