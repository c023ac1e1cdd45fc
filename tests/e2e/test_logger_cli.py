"""The `precog` command's logging as a user meets it: JSON lines in the configured file,
readable lines on stderr, stdout left clean, secrets masked, and bad log settings or an
unusable directory costing a warning, not the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugins.cli_runner import PrecogCli
from tests.plugins.logging_state import read_json_lines

pytestmark = pytest.mark.module("logger")


def _env(home: Path, **overrides: str) -> dict[str, str]:
    env = {"PRECOG_HOME": str(home), "PRECOG__SYSTEM__LOGGING__LEVEL": "DEBUG"}
    env.update(
        {f"PRECOG__SYSTEM__LOGGING__{key.upper()}": value for key, value in overrides.items()}
    )
    return env


def test_command_logs_json_to_the_configured_file_and_keeps_stdout_clean(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    result = precog_cli("config", "show", "system", "--json", env=_env(tmp_path))

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)  # nothing but the command's JSON on stdout
    assert shown["logging"]["level"] == "DEBUG"
    (started,) = [r for r in read_json_lines(tmp_path / "logs") if r["event"] == "command started"]
    assert started["level"] == "debug"
    assert started["logger"] == "precog.cli"
    assert started["argv"] == ["config", "show", "system", "--json"]
    assert started["timestamp"].endswith("Z")
    assert "command started" in result.stderr  # the readable console copy


def test_secrets_on_the_command_line_are_masked_in_the_log(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    log_dir = tmp_path / "custom-logs"
    result = precog_cli(
        "config",
        "show",
        "--key",
        "postgresql://trader:hunter2pw@db/precog?password=second-secret",
        env=_env(tmp_path, dir=str(log_dir), json_file="cli.jsonl"),
    )

    assert result.returncode == 2  # not a configuration key: the command's own error
    text = (log_dir / "cli.jsonl").read_text()
    assert "hunter2pw" not in text
    assert "second-secret" not in text
    (started,) = read_json_lines(log_dir, "cli.jsonl")
    assert started["argv"][-1] == "postgresql://trader:***@db/precog?password=***"


def test_console_can_be_switched_off(precog_cli: PrecogCli, tmp_path: Path) -> None:
    result = precog_cli("config", "validate", env=_env(tmp_path, console="false"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    assert "command started" not in result.stderr
    assert [r["event"] for r in read_json_lines(tmp_path / "logs")] == ["command started"]


def test_unusable_log_dir_costs_one_warning_not_the_command(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the log directory cannot be created below a regular file")

    result = precog_cli("config", "validate", env=_env(tmp_path, dir=str(blocker / "logs")))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    warnings = [line for line in result.stderr.splitlines() if "cannot write log file" in line]
    assert len(warnings) == 1, result.stderr
    assert "command started" in result.stderr  # console logging carried on
    assert "Traceback" not in result.stderr


def test_invalid_logging_settings_leave_console_logging_and_the_config_error(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    result = precog_cli("config", "validate", env=_env(tmp_path, max_bytes="lots"))

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors, result.stderr
    assert any("max_bytes" in line for line in errors)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "logs").exists()  # no file settings were trusted
