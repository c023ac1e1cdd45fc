"""configure_logging: one chain for structlog and stdlib, levels, reconfiguration, degradation."""

from __future__ import annotations

import datetime as dt
import io
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from precog.errors import ConfigError
from precog.utils.logger import MASK, SafeRotatingFileHandler, configure_logging, get_logger
from tests.plugins.logging_state import open_file_paths, read_json_lines

pytestmark = [pytest.mark.module("logger"), pytest.mark.usefixtures("isolated_logging")]


def _open_paths() -> set[str]:
    return open_file_paths()


def test_importing_the_module_configures_nothing() -> None:
    code = (
        "import logging, structlog, precog.utils.logger\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "assert logging.getLogger().level == logging.WARNING\n"
        "assert not structlog.is_configured()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_structlog_and_stdlib_records_share_fields_and_keep_extras(tmp_path: Path) -> None:
    console = io.StringIO()
    configure_logging("INFO", log_dir=tmp_path, console_stream=console)

    get_logger("precog.ours").info("order seen", price=Decimal("0.5600"), count=3)
    logging.getLogger("somelib.http").warning(
        "retrying %s in %d s", "markets", 2, extra={"attempt": 2, "api_key": "k-123"}
    )

    ours, lib = read_json_lines(tmp_path)
    for line in (ours, lib):
        assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
        stamp = dt.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
        assert stamp.utcoffset() == dt.timedelta(0)
        assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=5)
    assert ours | {"timestamp": None} == {
        "timestamp": None,
        "level": "info",
        "logger": "precog.ours",
        "event": "order seen",
        "price": "0.5600",
        "count": 3,
    }
    assert lib | {"timestamp": None} == {
        "timestamp": None,
        "level": "warning",
        "logger": "somelib.http",
        "event": "retrying markets in 2 s",
        "attempt": 2,
        "api_key": MASK,
    }
    text = console.getvalue()
    assert "order seen" in text
    assert "retrying markets in 2 s" in text
    assert "k-123" not in text
    assert "price=0.5600" in text


def test_level_filters_both_kinds_of_records(tmp_path: Path) -> None:
    configure_logging("WARNING", log_dir=tmp_path, console=False)
    get_logger("precog.a").info("hidden")
    logging.getLogger("lib.a").info("hidden too")
    get_logger("precog.a").warning("shown")
    logging.getLogger("lib.a").error("shown too")
    assert [r["event"] for r in read_json_lines(tmp_path)] == ["shown", "shown too"]


def test_unknown_level_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD")


def test_exceptions_are_rendered_and_masked(tmp_path: Path) -> None:
    configure_logging(log_dir=tmp_path, console=False)
    try:
        raise ConnectionError("cannot reach postgresql://precog:hunter2@db/precog")
    except ConnectionError:
        get_logger("precog.db").exception("connect failed")
    (line,) = read_json_lines(tmp_path)
    assert "ConnectionError: cannot reach postgresql://precog:***@db/precog" in line["exception"]
    assert "hunter2" not in (tmp_path / "precog.jsonl").read_text()


def test_reconfiguring_replaces_handlers_and_closes_the_old_file(tmp_path: Path) -> None:
    first_console, second_console = io.StringIO(), io.StringIO()
    configure_logging(log_dir=tmp_path / "a", console_stream=first_console)
    get_logger("precog.x").info("first")
    assert str(tmp_path / "a" / "precog.jsonl") in _open_paths()

    configure_logging(log_dir=tmp_path / "b", console_stream=second_console)
    configure_logging(log_dir=tmp_path / "b", console_stream=second_console)
    get_logger("precog.x").info("second")

    ours = [h for h in logging.getLogger().handlers if isinstance(h, SafeRotatingFileHandler)]
    assert len(ours) == 1
    assert [r["event"] for r in read_json_lines(tmp_path / "a")] == ["first"]
    assert [r["event"] for r in read_json_lines(tmp_path / "b")] == ["second"]
    assert "second" not in first_console.getvalue()
    assert second_console.getvalue().count("second") == 1
    assert str(tmp_path / "a" / "precog.jsonl") not in _open_paths()


def test_reconfiguring_keeps_handlers_installed_by_others(tmp_path: Path) -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    try:
        configure_logging(log_dir=tmp_path, console=False)
        configure_logging(console=False)
        assert foreign in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(foreign)


def test_a_logger_created_before_configuration_follows_it(tmp_path: Path) -> None:
    early = get_logger("precog.early")
    configure_logging(log_dir=tmp_path, console=False)
    early.info("after configure")
    assert [r["event"] for r in read_json_lines(tmp_path)] == ["after configure"]


def test_impossible_log_dir_degrades_to_console_with_one_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    console = io.StringIO()

    configure_logging(log_dir=blocker / "logs", console_stream=console)
    get_logger("precog.x").info("still logging")
    logging.getLogger("lib").error("library too")

    lines = console.getvalue().splitlines()
    warnings = [line for line in lines if "cannot write log file" in line]
    assert len(warnings) == 1
    assert str(blocker / "logs" / "precog.jsonl") in warnings[0]
    assert any("still logging" in line for line in lines)
    assert any("library too" in line for line in lines)
    assert not (blocker / "logs").exists()


def test_chatty_libraries_speak_from_warning_unless_debug() -> None:
    httpx_logger = logging.getLogger("httpx")
    configure_logging("INFO", console=False)
    assert not httpx_logger.isEnabledFor(logging.INFO)
    assert httpx_logger.isEnabledFor(logging.WARNING)
    assert logging.getLogger("precog.anything").isEnabledFor(logging.INFO)
    configure_logging("DEBUG", console=False)
    assert httpx_logger.isEnabledFor(logging.DEBUG)
    configure_logging("ERROR", console=False)
    assert not httpx_logger.isEnabledFor(logging.WARNING)
