"""What masking costs: the same logging with and without the masking processor, and masking
one event against serialising it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from precog.utils.logger import (
    SHARED_PROCESSORS,
    SafeRotatingFileHandler,
    json_default,
    mask_sensitive,
    mask_value,
    render_json,
)

pytestmark = pytest.mark.module("logger")

# A realistic request log: a URL with a query string, headers (one secret), parameters.
MESSAGE = "HTTP Request: GET https://api.elections.kalshi.com/trade-api/v2/markets %s"
FIELDS: dict[str, Any] = {
    "status": 200,
    "elapsed_ms": Decimal("41.250"),
    "headers": {
        "Accept": "application/json",
        "User-Agent": "precog/0.1",
        "KALSHI-ACCESS-KEY": "a952bcbe-ec3b-4b5b-b8f9-11dae589608c",
        "KALSHI-ACCESS-TIMESTAMP": "1767225600000",
        "KALSHI-ACCESS-SIGNATURE": "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==",
    },
    "params": {"series_ticker": "KXNFLGAME", "status": "open", "limit": 1000, "cursor": "abc"},
    "tickers": ["KXNFLGAME-26JAN01KCDEN-KC", "KXNFLGAME-26JAN01KCDEN-DEN"],
}


def _pipeline(directory: Path, name: str, *, mask: bool) -> tuple[logging.Logger, Any]:
    """A stdlib logger and a structlog logger over one JSON file, with or without masking;
    everything else is the module's own chain and handler."""
    chain = [p for p in SHARED_PROCESSORS if mask or p is not mask_sensitive]
    handler = SafeRotatingFileHandler(
        directory / f"{name}.jsonl", max_bytes=8 * 1024 * 1024, backup_count=1, on_failure=print
    )
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=chain,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render_json],
        )
    )
    stdlib_logger = logging.getLogger(f"perf.{name}")
    stdlib_logger.handlers = [handler]
    stdlib_logger.propagate = False
    stdlib_logger.setLevel(logging.INFO)
    ours = structlog.wrap_logger(
        stdlib_logger,
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return stdlib_logger, ours


@pytest.fixture
def pipelines(tmp_path: Path) -> Iterator[dict[str, tuple[logging.Logger, Any]]]:
    built = {
        "masked": _pipeline(tmp_path, "masked", mask=True),
        "plain": _pipeline(tmp_path, "plain", mask=False),
    }
    yield built
    for stdlib_logger, _ in built.values():
        for handler in stdlib_logger.handlers:
            handler.close()
        stdlib_logger.handlers = []


def test_masking_costs_at_most_a_few_times_plain_logging(
    compare_speed: Any, pipelines: dict[str, tuple[logging.Logger, Any]], tmp_path: Path
) -> None:
    # measured on the 2-core dev machine: ~75 us per pair of lines without masking,
    # ~95 us with it (speedup 0.74-0.85); 0.3 leaves room for a loaded machine.
    def log_with(kind: str) -> Any:
        stdlib_logger, ours = pipelines[kind]

        def write_two_lines() -> None:
            stdlib_logger.info(MESSAGE, "limit=1000", extra=FIELDS)
            ours.info("markets page", **FIELDS)

        return write_two_lines

    result = compare_speed(
        baseline=log_with("plain"),
        candidate=log_with("masked"),
        min_speedup=0.3,
        baseline_name="logging without masking",
        candidate_name="logging with masking",
    )
    assert result.speedup >= 0.3
    # The oracle that the candidate really masked and the baseline really did not.
    masked = (tmp_path / "masked.jsonl").read_text()
    plain = (tmp_path / "plain.jsonl").read_text()
    assert "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==" not in masked
    assert "dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==" in plain


def test_masking_an_event_costs_about_as_much_as_serialising_it(compare_speed: Any) -> None:
    # measured on the 2-core dev machine: json.dumps ~3.9 us, mask_value ~8.2 us (speedup
    # ~0.47); 0.2 (masking at most 5x a serialisation) holds on a loaded machine.
    event = {"event": MESSAGE % "limit=1000", **FIELDS}
    result = compare_speed(
        baseline=lambda: json.dumps(event, default=json_default),
        candidate=lambda: mask_value(event),
        min_speedup=0.2,
        baseline_name="json.dumps of the event",
        candidate_name="mask_value of the event",
    )
    assert result.speedup >= 0.2
    assert mask_value(event)["headers"]["KALSHI-ACCESS-SIGNATURE"] == "***"
