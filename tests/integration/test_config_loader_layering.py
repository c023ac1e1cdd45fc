"""The full layering order with real files and a real environment mapping:
packaged defaults < PRECOG_CONFIG_DIR files (deep-merged) < PRECOG__* variables, then
${VAR} interpolation; and the loader following file and environment changes on reload."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from precog.config.config_loader import DEFAULTS_DIR, ConfigLoader
from precog.config.environment import KalshiMode
from precog.config.yaml_loader import parse_yaml
from precog.errors import ConfigError

pytestmark = pytest.mark.module("config_loader")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "data_sources.yaml").write_text(
        "kalshi:\n"
        "  mode: demo\n"
        "  series: [KXMLBGAME]\n"
        "  poll_interval_seconds: 5\n"
        "espn:\n"
        "  leagues: [wnba]\n",
        encoding="utf-8",
    )
    (tmp_path / "trading.yaml").write_text(
        "min_edge: 0.03\nmax_position_dollars: 250.50\n", encoding="utf-8"
    )
    (tmp_path / "system.yaml").write_text(
        "logging:\n  dir: ${LOG_ROOT:-/tmp/precog-default}/${PRECOG_INSTANCE}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_defaults_then_files_then_environment(config_dir: Path) -> None:
    environ = {
        "PRECOG_CONFIG_DIR": str(config_dir),
        "PRECOG_INSTANCE": "east",
        "PRECOG__DATA_SOURCES__KALSHI__POLL_INTERVAL_SECONDS": "2.5",
        "PRECOG__TRADING__KELLY_FRACTION": "0.10",
        "PRECOG__MARKETS__KALSHI__FEE_RATE": "0.035",
    }
    settings = ConfigLoader(environ=environ).settings
    defaults = {name: parse_yaml(p.read_text(), str(p)) for name, p in _default_files().items()}

    kalshi = settings.data_sources.kalshi
    assert kalshi.poll_interval_seconds == 2.5  # env beats file (5) beats default (15)
    assert kalshi.mode is KalshiMode.DEMO  # file beats default
    assert kalshi.series == ("KXMLBGAME",)  # lists are replaced, not appended
    assert kalshi.stale_after_seconds == float(
        defaults["data_sources"]["kalshi"]["stale_after_seconds"]
    )
    assert kalshi.rate_limit_tier == defaults["data_sources"]["kalshi"]["rate_limit_tier"]
    espn = settings.data_sources.espn
    assert espn.leagues == ("wnba",)
    assert espn.idle_poll_seconds == float(defaults["data_sources"]["espn"]["idle_poll_seconds"])

    trading = settings.trading
    assert trading.min_edge == Decimal("0.03")
    assert trading.max_position_dollars == Decimal("250.50")
    assert trading.kelly_fraction == Decimal("0.10")  # env over default
    assert trading.max_total_exposure_dollars == defaults["trading"]["max_total_exposure_dollars"]
    assert settings.markets.kalshi.fee_rate == Decimal("0.035")
    assert settings.markets.kalshi.tick_size == defaults["markets"]["kalshi"]["tick_size"]

    # interpolation runs on the merged result: default for LOG_ROOT, the variable for the rest
    assert settings.system.logging.dir == Path("/tmp/precog-default/east")
    assert settings.system.logging.level == defaults["system"]["logging"]["level"]


def test_reload_follows_files_and_environment(config_dir: Path) -> None:
    environ = {"PRECOG_CONFIG_DIR": str(config_dir), "PRECOG_INSTANCE": "a"}
    loader = ConfigLoader(environ=environ)
    assert loader.get("trading.min_edge") == Decimal("0.03")

    (config_dir / "trading.yaml").write_text("min_edge: 0.04\n", encoding="utf-8")
    environ["LOG_ROOT"] = "/srv/logs"
    environ["PRECOG__POSITION_MANAGEMENT__MAX_OPEN_POSITIONS"] = "3"
    settings = loader.reload()
    assert settings.trading.min_edge == Decimal("0.04")
    assert settings.trading.max_position_dollars == Decimal("100.00")  # file key gone: default
    assert settings.system.logging.dir == Path("/srv/logs/a")
    assert settings.position_management.max_open_positions == 3

    (config_dir / "trading.yaml").unlink()
    del environ["PRECOG__POSITION_MANAGEMENT__MAX_OPEN_POSITIONS"]
    settings = loader.reload()
    assert settings.trading.min_edge == Decimal("0.05")
    assert settings.position_management.max_open_positions == 10


def test_failed_layer_keeps_previous_snapshot_and_recovers(config_dir: Path) -> None:
    environ = {"PRECOG_CONFIG_DIR": str(config_dir), "PRECOG_INSTANCE": "a"}
    loader = ConfigLoader(environ=environ)
    good = loader.settings
    environ["PRECOG__TRADING__MIN_EDGE"] = "lots"
    with pytest.raises(ConfigError, match="PRECOG__TRADING__MIN_EDGE: min_edge: expected a number"):
        loader.reload()
    assert loader.settings is good
    environ["PRECOG__TRADING__MIN_EDGE"] = "0.2"
    assert loader.reload().trading.min_edge == Decimal("0.2")


def test_os_environ_is_the_default_environment(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRECOG_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("PRECOG_INSTANCE", "west")
    monkeypatch.setenv("PRECOG__TRADING__MIN_EDGE", "0.09")
    loader = ConfigLoader()
    assert loader.config_dir == config_dir
    assert loader.settings.trading.min_edge == Decimal("0.09")
    assert loader.settings.system.logging.dir.name == "west"
    monkeypatch.setenv("PRECOG__TRADING__MIN_EDGE", "0.08")
    assert loader.reload().trading.min_edge == Decimal("0.08")
    assert os.environ["PRECOG__TRADING__MIN_EDGE"] == "0.08"


def _default_files() -> dict[str, Path]:
    return {path.stem: path for path in sorted(DEFAULTS_DIR.glob("*.yaml"))}
