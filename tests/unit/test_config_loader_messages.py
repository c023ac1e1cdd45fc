"""Configuration problems word for word: each line is the whole guidance the user gets (what
is wrong, where, and what was found or is allowed), so each is pinned in full: values as
written (true, null, a mapping, a list), schema limits and patterns, typo hints at every
depth, the key lists of malformed PRECOG__ variables and misnamed files, and which layer a
problem is blamed on. Written for the mutants `make mutation MODULE=config_loader` left alive
in _problem, _show, _describe, _allowed_keys, _locate, _env_override, _user_dir and as_dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import BaseModel

from precog.config.config_loader import (
    ConfigLoader,
    InvalidConfigError,
    _allowed_keys,
    build_settings,
)
from precog.errors import ConfigError

pytestmark = pytest.mark.module("config_loader")

FILES = (
    "system.yaml, data_sources.yaml, markets.yaml, probability_models.yaml, trading.yaml, "
    "trade_strategies.yaml, position_management.yaml"
)
LEVELS = "'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(config_dir: Path | None, environ: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(InvalidConfigError) as caught:
        build_settings(config_dir, environ)
    return caught.value.problems


# ---------------------------------------------------------------- values as written


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "system",
            "logging:\n  json_file: null\n",
            "logging.json_file: expected a string, found null",
        ),
        (
            "system",
            "logging:\n  json_file: false\n",
            "logging.json_file: expected a string, found false",
        ),
        (
            "system",
            "logging:\n  level: true\n",
            f"logging.level: expected one of {LEVELS}, found true",
        ),
        ("trading", "min_edge: {a: 1}\n", "min_edge: expected a number, found a mapping"),
        ("trading", "min_edge: [1]\n", "min_edge: expected a number, found a list"),
        ("trading", "min_edge: low\n", "min_edge: expected a number, found 'low'"),
        (
            "system",
            "database:\n  pool_max_size: 2.5\n",
            "database.pool_max_size: expected an integer, found 2.5",
        ),
    ],
)
def test_the_value_found_is_shown_as_written(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = write(tmp_path, name, text)
    assert problems(tmp_path, {}) == (f"{path}: {problem}",)


def test_a_value_that_breaks_a_pattern_names_the_pattern(tmp_path: Path) -> None:
    path = write(tmp_path, "system", "logging:\n  json_file: logs/precog.jsonl\n")
    assert problems(tmp_path, {}) == (
        f"{path}: logging.json_file: expected a value matching ^[^/\\\\]+$, "
        "found 'logs/precog.jsonl'",
    )


def test_an_empty_list_names_the_least_number_of_items(tmp_path: Path) -> None:
    path = write(tmp_path, "probability_models", "model_classes: []\n")
    assert problems(tmp_path, {}) == (
        f"{path}: model_classes: expected at least 1 item(s), found a list",
    )


def test_bounds_name_the_limit_and_the_value(tmp_path: Path) -> None:
    trading = write(tmp_path, "trading", "min_edge: 1.5\nkelly_fraction: 0\n")
    positions = write(tmp_path, "position_management", "max_open_positions: 0\n")
    assert problems(tmp_path, {}) == (  # files in load order, keys in schema order
        f"{trading}: min_edge: expected a value <= 1, found 1.5",
        f"{trading}: kelly_fraction: expected a value > 0, found 0",
        f"{positions}: max_open_positions: expected a value >= 1, found 0",
    )


def test_a_validator_message_is_used_as_it_is(tmp_path: Path) -> None:
    # the schema's own sentence already says what is wrong; no ", found ..." after it
    path = write(tmp_path, "data_sources", "kalshi:\n  series: [KXA, KXB, KXA]\n")
    assert problems(tmp_path, {}) == (f"{path}: kalshi.series: duplicate entries: KXA",)


def test_a_problem_with_a_whole_file_names_the_file_only(tmp_path: Path) -> None:
    path = write(tmp_path, "trading", "max_position_dollars: 2000\n")
    assert problems(tmp_path, {}) == (
        f"{path}: max_position_dollars (2000) exceeds max_total_exposure_dollars (1000.00)",
    )


def test_another_pydantic_problem_keeps_its_message_and_shows_the_value(tmp_path: Path) -> None:
    # a kind without its own wording (here: a number as a key of a strategy)
    path = write(tmp_path, "trade_strategies", "strategies:\n  halftime_value:\n    7: x\n")
    assert problems(tmp_path, {}) == (
        f"{path}: strategies.halftime_value[7]: Keys should be strings, found 7",
    )


# ---------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("trading", "min_edg: 0.1\n", "min_edg: unknown key; did you mean 'min_edge'?"),
        (
            "data_sources",
            "kalshi:\n  poll_intervl: 3\n",
            "kalshi.poll_intervl: unknown key; did you mean 'poll_interval_seconds'?",
        ),
        (
            "data_sources",
            "kalshi:\n  zzz: 3\n",
            "kalshi.zzz: unknown key; known keys: mode, series, poll_interval_seconds, "
            "stale_after_seconds, rate_limit_tier",
        ),
        (
            "trade_strategies",
            "strategies:\n  halftime_value:\n    min_edg: 0.1\n",
            "strategies.halftime_value.min_edg: unknown key; did you mean 'min_edge'?",
        ),
        (
            "trade_strategies",
            "strategies:\n  halftime_value:\n    zzz: 1\n",
            "strategies.halftime_value.zzz: unknown key; known keys: type, enabled, min_edge",
        ),
        (
            "position_management",
            "zzz: 1\n",
            "zzz: unknown key; known keys: stop_loss_pct, take_profit_pct, max_open_positions",
        ),
    ],
)
def test_an_unknown_key_gets_the_closest_known_key_or_the_list(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = write(tmp_path, name, text)
    assert problems(tmp_path, {}) == (f"{path}: {problem}",)


# ---------------------------------------------------------------- environment variables


def test_a_variable_naming_no_file_lists_the_files() -> None:
    assert problems(None, {"PRECOG__NOPE__X": "1"}) == (
        "environment variable PRECOG__NOPE__X: expected PRECOG__<FILE>__<KEY>[__<KEY>...] with "
        "FILE one of SYSTEM, DATA_SOURCES, MARKETS, PROBABILITY_MODELS, TRADING, "
        "TRADE_STRATEGIES, POSITION_MANAGEMENT",
    )


def test_a_variable_naming_no_key_lists_the_keys_there() -> None:
    assert problems(None, {"PRECOG__TRADING__MIN_EDGX": "1"}) == (
        "environment variable PRECOG__TRADING__MIN_EDGX: unknown key 'min_edgx' in "
        "trading.yaml; known keys: kelly_fraction, max_position_dollars, "
        "max_total_exposure_dollars, min_edge",
    )
    assert problems(None, {"PRECOG__SYSTEM__LOGGING__LEVELS": "x"}) == (
        "environment variable PRECOG__SYSTEM__LOGGING__LEVELS: unknown key 'levels' in "
        "logging; known keys: backup_count, console, dir, json_file, level, max_bytes",
    )


def test_a_variable_below_a_value_says_so_without_a_key_list() -> None:
    assert problems(None, {"PRECOG__DATA_SOURCES__KALSHI__MODE__X": "1"}) == (
        "environment variable PRECOG__DATA_SOURCES__KALSHI__MODE__X: unknown key 'x' in "
        "kalshi.mode",
    )


# ---------------------------------------------------------------- files and views


def test_a_misnamed_file_lists_the_file_names(tmp_path: Path) -> None:
    (tmp_path / "tradng.yaml").write_text("min_edge: 0.1\n", encoding="utf-8")
    assert problems(tmp_path, {}) == (
        f"{tmp_path / 'tradng.yaml'}: not a configuration file name; expected one of {FILES}",
    )


def test_an_unknown_file_view_lists_the_files() -> None:
    with pytest.raises(ConfigError) as caught:
        ConfigLoader(None, {}).as_dict("tradin")
    assert str(caught.value) == (
        "unknown configuration file 'tradin'; use one of system, data_sources, markets, "
        "probability_models, trading, trade_strategies, position_management"
    )


# ---------------------------------------------------------------- which layer is blamed


def test_a_key_inside_a_new_mapping_is_blamed_on_the_file_that_wrote_it(tmp_path: Path) -> None:
    path = write(
        tmp_path, "trade_strategies", "strategies:\n  x:\n    type: Value\n    enabled: yes\n"
    )
    assert problems(tmp_path, {}) == (
        f"{path}: strategies.x.type: expected a value matching ^[a-z][a-z0-9_]*$, found 'Value'",
        f"{path}: strategies.x.min_edge: missing required key",
    )


def test_a_mapping_where_a_value_belongs_is_one_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "data_sources", "kalshi:\n  mode:\n    a:\n      b: 1\n")
    assert problems(tmp_path, {}) == (
        f"{path}: kalshi.mode: expected one of 'sandbox', 'demo' or 'live', found a mapping",
    )


def test_a_missing_key_is_blamed_on_its_mapping_not_on_a_later_layer_above(
    tmp_path: Path,
) -> None:
    # the file defines strategy x without two keys; a variable then adds strategy y to the
    # same `strategies` mapping: the missing keys are still the file's doing
    path = write(tmp_path, "trade_strategies", "strategies:\n  x:\n    type: value\n")
    environ = {
        "PRECOG__TRADE_STRATEGIES__STRATEGIES": "{y: {type: value, enabled: true, min_edge: 0.1}}"
    }
    assert problems(tmp_path, environ) == (
        f"{path}: strategies.x.enabled: missing required key",
        f"{path}: strategies.x.min_edge: missing required key",
    )


def test_a_bad_value_from_a_variable_is_blamed_on_the_variable(tmp_path: Path) -> None:
    write(tmp_path, "trade_strategies", "strategies:\n  halftime_value:\n    enabled: true\n")
    environ = {"PRECOG__TRADE_STRATEGIES__STRATEGIES__HALFTIME_VALUE": "{min_edge: 2}"}
    assert problems(tmp_path, environ) == (
        "environment variable PRECOG__TRADE_STRATEGIES__STRATEGIES__HALFTIME_VALUE: "
        "strategies.halftime_value.min_edge: expected a value <= 1, found 2",
    )


def test_a_key_keeps_its_file_when_a_variable_later_sets_a_sibling(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trade_strategies",
        "strategies:\n  x:\n    type: Value\n    enabled: false\n    min_edge: 0.1\n",
    )
    environ = {"PRECOG__TRADE_STRATEGIES__STRATEGIES__X": "{enabled: true}"}
    assert problems(tmp_path, environ) == (
        f"{path}: strategies.x.type: expected a value matching ^[a-z][a-z0-9_]*$, found 'Value'",
    )


class _Inner(BaseModel):
    alpha: int = 0
    beta: int = 0


class _Shapes(BaseModel):
    inner: _Inner = _Inner()
    named: Mapping[str, _Inner] = {}
    maybe: _Inner | None = None
    many: tuple[_Inner, ...] = ()


@pytest.mark.parametrize(
    ("loc", "allowed"),
    [
        ((), ["inner", "named", "maybe", "many"]),
        (("inner",), ["alpha", "beta"]),
        (("named", "any_name"), ["alpha", "beta"]),
        # shapes the hint does not follow: no hint, never an error while reporting one
        (("maybe",), []),
        (("many", 0), []),
        (("inner", "alpha"), []),
        (("nowhere",), []),
    ],
)
def test_typo_hints_follow_models_and_named_entries_and_give_up_elsewhere(
    loc: tuple[str | int, ...], allowed: list[str]
) -> None:
    assert _allowed_keys(_Shapes, loc) == allowed
