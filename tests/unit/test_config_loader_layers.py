"""The layers one by one: a broken installation (a packaged file missing, unreadable, not
YAML, not a mapping, short of a key), a broken user file, an unlistable or cluttered user
directory, and what each breakage does and does not take down with it (a broken file
poisons its own section: the later layers of that section are not applied or reported,
every other section still is). Then the environment layer: a flow mapping merges key by key
like a file does, the default `environ` is the process environment, and `${VAR}` inside a
list is located by its index. Written for the mutants `make mutation MODULE=config_loader`
left alive in _layer, _user_dir, _merge, _env_override, _interpolate, _variable and
ConfigLoader.__init__."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from precog.config.config_loader import (
    DEFAULTS_DIR,
    ConfigLoader,
    InvalidConfigError,
    build_settings,
)
from precog.config.environment import KalshiMode

pytestmark = pytest.mark.module("config_loader")

INVALID_UTF8 = "cannot read: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
NOT_YAML = (
    "line 2, column 1: invalid YAML: while parsing a flow node: did not find expected node content"
)
BROKEN: dict[str, tuple[bytes, str]] = {  # how a file is broken -> (its bytes, the problem)
    "unreadable": (b"\xffkalshi: {}\n", INVALID_UTF8),
    "not YAML": (b"kalshi: [\n", NOT_YAML),
    "not a mapping": (b"- kalshi\n", "expected a mapping of keys, found a list"),
}


def problems(
    config_dir: Path | None, environ: dict[str, str], defaults_dir: Path = DEFAULTS_DIR
) -> tuple[str, ...]:
    with pytest.raises(InvalidConfigError) as caught:
        build_settings(config_dir, environ, defaults_dir=defaults_dir)
    return caught.value.problems


@pytest.fixture
def installation(tmp_path: Path) -> Path:
    """A copy of the packaged defaults, to break."""
    defaults = tmp_path / "installed"
    shutil.copytree(DEFAULTS_DIR, defaults)
    return defaults


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "user"
    directory.mkdir()
    return directory


# ---------------------------------------------------------------- the installation


def test_the_copied_installation_loads_like_the_real_one(installation: Path) -> None:
    assert build_settings(None, {}, defaults_dir=installation) == ConfigLoader(None, {}).settings


def test_a_file_missing_from_the_installation_is_reported(
    installation: Path, user_dir: Path
) -> None:
    (installation / "markets.yaml").unlink()
    (user_dir / "markets.yaml").write_text("kalshi:\n  fee_rate: 0.05\n", encoding="utf-8")
    assert problems(user_dir, {"PRECOG__MARKETS__KALSHI__FEE_RATE": "high"}, installation) == (
        f"{installation / 'markets.yaml'}: file is missing from the installation",
    )


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_installation_file_poisons_only_its_section(
    installation: Path, user_dir: Path, broken: str
) -> None:
    content, problem = BROKEN[broken]
    (installation / "data_sources.yaml").write_bytes(content)
    # the user's file and variable for that section are not applied on top of nothing...
    (user_dir / "data_sources.yaml").write_text("kalshi:\n  mode: demo\n", encoding="utf-8")
    environ = {
        "PRECOG__DATA_SOURCES__KALSHI__MODE": "paper",
        "PRECOG__TRADING__MIN_EDGE": "high",  # ...while other sections go on
    }
    assert problems(user_dir, environ, installation) == (
        f"{installation / 'data_sources.yaml'}: {problem}",
        "environment variable PRECOG__TRADING__MIN_EDGE: min_edge: expected a number, found 'high'",
    )


def test_a_key_missing_from_the_installation_is_blamed_on_its_file(installation: Path) -> None:
    path = installation / "trading.yaml"
    path.write_text(
        "max_position_dollars: 100\nmax_total_exposure_dollars: 1000\nkelly_fraction: 0.25\n",
        encoding="utf-8",
    )
    assert problems(None, {}, installation) == (f"{path}: min_edge: missing required key",)


# ---------------------------------------------------------------- the user directory


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_user_file_poisons_only_its_section(user_dir: Path, broken: str) -> None:
    content, problem = BROKEN[broken]
    path = user_dir / "data_sources.yaml"
    path.write_bytes(content)
    environ = {
        "PRECOG__DATA_SOURCES__KALSHI__MODE": "paper",  # not applied, not reported
        "PRECOG__DATA_SOURCES__KALSHI__NOPE": "1",  # not even looked up
        "PRECOG__MARKETS__KALSHI__FEE_RATE": "high",
    }
    assert problems(user_dir, environ) == (
        f"{path}: {problem}",
        "environment variable PRECOG__MARKETS__KALSHI__FEE_RATE: kalshi.fee_rate: "
        "expected a number, found 'high'",
    )


class _UnlistableDir(type(Path())):  # type: ignore[misc]
    """A directory whose listing fails as it does without read permission (tests run as
    root, for whom a chmod does not make a directory unreadable)."""

    def iterdir(self) -> Any:
        raise PermissionError(13, "Permission denied", str(self))


def test_an_unlistable_user_directory_is_one_problem(user_dir: Path) -> None:
    (user_dir / "trading.yaml").write_text("min_edge: 7\n", encoding="utf-8")
    directory = _UnlistableDir(user_dir)
    assert problems(directory, {}) == (
        f"{user_dir}: cannot list: [Errno 13] Permission denied: '{user_dir}'",
    )


def test_hidden_and_other_files_in_the_user_directory_are_ignored(user_dir: Path) -> None:
    (user_dir / ".trading.yaml").write_text("min_edge: [\n", encoding="utf-8")  # editor backup
    (user_dir / ".notes.yml").write_text("x\n", encoding="utf-8")
    (user_dir / "README").write_text("my settings\n", encoding="utf-8")
    (user_dir / "trading.yaml").write_text("min_edge: 0.09\n", encoding="utf-8")
    assert build_settings(user_dir, {}).trading.min_edge == Decimal("0.09")


# ---------------------------------------------------------------- the environment


def test_a_mapping_from_a_variable_merges_key_by_key(user_dir: Path) -> None:
    (user_dir / "data_sources.yaml").write_text("kalshi:\n  series: [KXA]\n", encoding="utf-8")
    environ = {"PRECOG__DATA_SOURCES__KALSHI": "{mode: demo, poll_interval_seconds: 5}"}
    kalshi = build_settings(user_dir, environ).data_sources.kalshi
    default = ConfigLoader(None, {}).settings.data_sources.kalshi
    assert kalshi == default.model_copy(
        update={"mode": KalshiMode.DEMO, "series": ("KXA",), "poll_interval_seconds": 5.0}
    )


def test_a_strategy_from_a_variable_joins_the_others() -> None:
    environ = {"PRECOG__TRADE_STRATEGIES__STRATEGIES": "{late: {type: value, enabled: true, "
               "min_edge: 0.12}, live_momentum: {enabled: true}}"}  # fmt: skip
    strategies = build_settings(None, environ).trade_strategies.strategies
    assert {name: strategy.model_dump() for name, strategy in strategies.items()} == {
        "halftime_value": {"type": "value", "enabled": False, "min_edge": Decimal("0.08")},
        "live_momentum": {"type": "momentum", "enabled": True, "min_edge": Decimal("0.10")},
        "late": {"type": "value", "enabled": True, "min_edge": Decimal("0.12")},
    }


def test_a_list_from_a_variable_replaces_the_list_an_empty_mapping_changes_nothing() -> None:
    settings = build_settings(
        None,
        {"PRECOG__DATA_SOURCES__ESPN__LEAGUES": "[wnba]", "PRECOG__DATA_SOURCES__KALSHI": "{}"},
    )
    default = ConfigLoader(None, {}).settings.data_sources
    assert settings.data_sources == default.model_copy(
        update={"espn": default.espn.model_copy(update={"leagues": ("wnba",)})}
    )


def test_the_default_environ_is_the_process_environment(
    user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PRECOG__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PRECOG__TRADING__MIN_EDGE", "0.07")
    monkeypatch.setenv("PRECOG_TEST_LOG_NAME", "east")
    (user_dir / "system.yaml").write_text(
        "logging:\n  json_file: ${PRECOG_TEST_LOG_NAME}.jsonl\n", encoding="utf-8"
    )
    settings = ConfigLoader(user_dir).settings
    assert settings.trading.min_edge == Decimal("0.07")
    assert settings.system.logging.json_file == "east.jsonl"


# ---------------------------------------------------------------- interpolation


def test_an_unset_variable_in_a_list_is_located_by_its_index(user_dir: Path) -> None:
    path = user_dir / "data_sources.yaml"
    path.write_text("kalshi:\n  series: [KXA, '${SERIES}']\n", encoding="utf-8")
    # the text stays as written, so the schema's complaint shows what the file says
    assert problems(user_dir, {"SERIES": ""}) == (
        f"{path}: kalshi.series[1]: environment variable SERIES is not set or empty (set it, "
        "or write ${SERIES:-default} to give a default)",
        f"{path}: kalshi.series[1]: expected a value matching ^[A-Z0-9][A-Z0-9._-]*$, "
        "found '${SERIES}'",
    )


def test_an_unset_variable_keeps_its_text_for_the_schema_check(user_dir: Path) -> None:
    path = user_dir / "trading.yaml"
    path.write_text("min_edge: ${EDGE}\n", encoding="utf-8")
    assert problems(user_dir, {}) == (
        f"{path}: min_edge: environment variable EDGE is not set or empty (set it, or write "
        "${EDGE:-default} to give a default)",
        f"{path}: min_edge: expected a number, found '${{EDGE}}'",
    )
