"""`precog config validate|show` and `precog env` as a user runs them: real subprocess, real
files, asserting output, exit codes (0 ok, 2 config error, 3 safety refusal) and masking."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.plugins.cli_runner import PrecogCli

pytestmark = pytest.mark.module("config_loader")

# Neutralise anything the developer's shell may have set.
HOME = Path(tempfile.gettempdir()) / "precog-e2e-config-home"
CLEAN = {"PRECOG_CONFIG_DIR": "", "DATABASE_URL": "", "KALSHI_MODE": "", "PRECOG_HOME": str(HOME)}


def test_validate_ok(precog_cli: PrecogCli) -> None:
    result = precog_cli("config", "validate", env=CLEAN)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok: 7 files valid\n", "")


def test_validate_broken_yaml_prints_one_line_and_exits_2(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    broken = tmp_path / "data_sources.yaml"
    broken.write_text("kalshi:\n  mode: demo\n  series: [KXNFLGAME\n", encoding="utf-8")
    result = precog_cli("config", "validate", env={**CLEAN, "PRECOG_CONFIG_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {broken}: line 4, column 1: invalid YAML: ")
    assert "Traceback" not in result.stderr


def test_validate_lists_every_problem(precog_cli: PrecogCli, tmp_path: Path) -> None:
    (tmp_path / "trading.yaml").write_text("min_edge: 2\nkelly_fraction: x\n", encoding="utf-8")
    env = {**CLEAN, "PRECOG_CONFIG_DIR": str(tmp_path), "PRECOG__SYSTEM__LOGGING__LEVELS": "x"}
    result = precog_cli("config", "validate", env=env)
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == sorted(
        [
            "error: environment variable PRECOG__SYSTEM__LOGGING__LEVELS: unknown key 'levels' "
            "in logging; known keys: backup_count, console, dir, json_file, level, max_bytes",
            f"error: {tmp_path / 'trading.yaml'}: min_edge: expected a value <= 1, found 2",
            f"error: {tmp_path / 'trading.yaml'}: kelly_fraction: expected a number, found 'x'",
        ]
    )


def test_show_json_reflects_layers_with_exact_decimals(
    precog_cli: PrecogCli, tmp_path: Path
) -> None:
    (tmp_path / "trading.yaml").write_text("min_edge: 0.0300\n", encoding="utf-8")
    env = {
        **CLEAN,
        "PRECOG_CONFIG_DIR": str(tmp_path),
        "PRECOG__DATA_SOURCES__KALSHI__SERIES": "[KXA, KXB]",
    }
    result = precog_cli("config", "show", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["trading"]["min_edge"] == "0.0300"  # exact, as a string: never a float
    assert shown["data_sources"]["kalshi"]["series"] == ["KXA", "KXB"]
    assert shown["system"]["logging"]["dir"] == str(HOME / "logs")

    one = precog_cli("config", "show", "trading", "--json", env=env)
    assert json.loads(one.stdout) == shown["trading"]
    key = precog_cli(
        "config", "show", "--key", "data_sources.kalshi.poll_interval_seconds", env=env
    )
    assert (key.returncode, key.stdout) == (0, "15.0\n")
    yaml_view = precog_cli("config", "show", "markets", env=env)
    assert "fee_rate: 0.07\n" in yaml_view.stdout


def test_show_unknown_key_exits_2(precog_cli: PrecogCli) -> None:
    result = precog_cli("config", "show", "--key", "trading.edge", env=CLEAN)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown configuration key 'trading.edge'")


def test_env_json_masks_password_and_credentials(precog_cli: PrecogCli) -> None:
    env = {
        **CLEAN,
        "DATABASE_URL": "postgresql://ops:hunter2@db.internal/precog_test_e2e",
        "TEST_KALSHI_API_KEY": "key-id-123",
        "TEST_KALSHI_PRIVATE_KEY_PATH": "",
        "KALSHI_MODE": "demo",
    }
    result = precog_cli("env", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "key-id-123" not in result.stdout
    report = json.loads(result.stdout)
    assert report["environment"] == "test"
    assert report["database"] == {
        "target": "postgresql://ops:***@db.internal/precog_test_e2e",
        "dbname": "precog_test_e2e",
        "embedded": False,
    }
    assert report["kalshi_mode"] == "demo"
    assert report["kalshi_credentials"] == {
        "TEST_KALSHI_API_KEY": True,
        "TEST_KALSHI_PRIVATE_KEY_PATH": False,
    }
    assert report["safety"] == "ok"


def test_env_shows_risk_banner_for_prod(precog_cli: PrecogCli) -> None:
    env = {**CLEAN, "PRECOG_ENV": "prod", "KALSHI_MODE": "demo"}
    result = precog_cli("env", env=env)
    assert result.returncode == 0, result.stderr
    assert "RISK" in result.stdout
    assert "PRECOG_ENV=prod" in result.stdout
    assert "precog_prod" in result.stdout
    plain = precog_cli("env", env={**CLEAN, "PRECOG_ENV": "dev"})
    assert "RISK" not in plain.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"KALSHI_MODE": "live"}, "refusing KALSHI_MODE=live with PRECOG_ENV=test"),
        ({"PRECOG_ENV": "prod"}, "refusing KALSHI_MODE=sandbox with PRECOG_ENV=prod"),
        ({"PRECOG_ENV": "dev", "KALSHI_MODE": "live"}, "PRECOG_LIVE_CONFIRMED=yes"),
        ({"DATABASE_URL": "postgresql://h/precog_prod"}, "refusing database 'precog_prod'"),
    ],
)
def test_env_safety_refusal_exits_3(
    precog_cli: PrecogCli, extra: dict[str, str], message: str
) -> None:
    result = precog_cli("env", "--json", env={**CLEAN, **extra})
    assert result.returncode == 3
    assert json.loads(result.stdout)["safety"].startswith("refused: ")
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert message in line


def test_invalid_environment_exits_2(precog_cli: PrecogCli) -> None:
    result = precog_cli("env", env={**CLEAN, "PRECOG_ENV": "qa"})
    assert result.returncode == 2
    assert result.stderr == (
        "error: PRECOG_ENV='qa' is not valid; use one of: dev, test, staging, prod\n"
    )
