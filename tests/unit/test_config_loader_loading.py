"""ConfigLoader: Decimal floats, interpolation, overrides, error messages, dotted access,
masking and the three named reload failures (each keeps the previous configuration)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from precog.config.config_loader import (
    ConfigLoader,
    InvalidConfigError,
    build_settings,
)
from precog.config.environment import KalshiMode
from precog.config.yaml_loader import dump_yaml, parse_yaml
from precog.errors import ConfigError

pytestmark = pytest.mark.module("config_loader")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(config_dir: Path | None, environ: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(InvalidConfigError) as caught:
        build_settings(config_dir, environ)
    return caught.value.problems


# ---------------------------------------------------------------- defaults and types


def test_packaged_defaults_load_with_documented_values() -> None:
    settings = ConfigLoader(environ={"PRECOG_HOME": "/srv/precog"}).settings
    assert settings.system.database.pool_min_size == 1
    assert settings.system.database.pool_max_size == 10
    assert settings.system.database.pool_timeout_seconds == 10.0
    assert settings.system.logging.level == "INFO"
    assert settings.system.logging.dir == Path("/srv/precog/logs")
    assert settings.system.logging.json_file == "precog.jsonl"
    assert settings.system.logging.max_bytes == 10 * 1024 * 1024
    assert settings.system.logging.backup_count == 5
    assert settings.system.logging.console is True
    kalshi = settings.data_sources.kalshi
    assert kalshi.mode is KalshiMode.SANDBOX
    assert kalshi.series == ("KXNFLGAME", "KXNBAGAME", "KXNHLGAME")
    assert (kalshi.poll_interval_seconds, kalshi.stale_after_seconds) == (15.0, 30.0)
    assert kalshi.rate_limit_tier == "basic"
    espn = settings.data_sources.espn
    assert espn.leagues == ("nfl", "nba", "nhl")
    assert (espn.live_poll_seconds, espn.idle_poll_seconds, espn.requests_per_second) == (
        15.0,
        300.0,
        1.0,
    )


def test_money_and_probabilities_are_exact_decimals() -> None:
    settings = ConfigLoader(environ={}).settings
    for value, text in [
        (settings.trading.min_edge, "0.05"),
        (settings.trading.max_position_dollars, "100.00"),
        (settings.trading.kelly_fraction, "0.25"),
        (settings.markets.kalshi.fee_rate, "0.07"),
        (settings.markets.kalshi.tick_size, "0.01"),
        (settings.probability_models.min_confidence, "0.60"),
        (settings.position_management.stop_loss_pct, "0.20"),
        (settings.trade_strategies.strategies["halftime_value"].min_edge, "0.08"),
    ]:
        assert type(value) is Decimal
        assert value.as_tuple() == Decimal(text).as_tuple()  # same digits, same exponent


def test_every_yaml_float_form_becomes_an_exact_decimal(tmp_path: Path) -> None:
    write(
        tmp_path,
        "trading",
        "min_edge: 5.0e-2\n"  # exponent form
        "max_position_dollars: 1_000.25\n"  # digit separators
        "max_total_exposure_dollars: 1:00:00.5\n"  # YAML 1.1 base 60
        "kelly_fraction: .25\n",  # no leading digit
    )
    trading = ConfigLoader(tmp_path, {}).settings.trading
    assert trading.min_edge.as_tuple() == Decimal("0.050").as_tuple()
    assert trading.max_position_dollars == Decimal("1000.25")
    assert trading.max_total_exposure_dollars == Decimal("3600.5")
    assert trading.kelly_fraction == Decimal("0.25")
    assert parse_yaml("a: 0.1\nb: '0.3'\nc: 3\n", "t.yaml") == {
        "a": Decimal("0.1"),  # not 0.1000000000000000055511151231257827
        "b": "0.3",
        "c": 3,
    }


def test_non_finite_yaml_floats_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "trading", "min_edge: .nan\nmax_total_exposure_dollars: .inf\n")
    assert problems(tmp_path, {}) == (
        f"{path}: max_total_exposure_dollars: expected a finite number, found Infinity",
        f"{path}: min_edge: expected a finite number, found NaN",
    )


def test_dumped_section_reloads_with_identical_decimals(tmp_path: Path) -> None:
    loader = ConfigLoader(tmp_path, {"PRECOG__TRADING__MIN_EDGE": "0.0500"})
    text = dump_yaml(loader.as_dict("trading"))
    assert "min_edge: 0.0500\n" in text
    assert "max_position_dollars: 100.00\n" in text
    write(tmp_path, "trading", text)
    reloaded = ConfigLoader(tmp_path, {}).settings.trading
    for key in ("min_edge", "max_position_dollars", "max_total_exposure_dollars", "kelly_fraction"):
        assert getattr(reloaded, key).as_tuple() == getattr(loader.settings.trading, key).as_tuple()
    assert (
        dump_yaml({"mode": KalshiMode.DEMO, "big": Decimal("1E+2")}) == "mode: demo\nbig: 100.0\n"
    )


def test_settings_are_immutable() -> None:
    settings = ConfigLoader(environ={}).settings
    with pytest.raises(ValidationError, match="frozen"):
        settings.trading.min_edge = Decimal("0.5")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.data_sources.kalshi.series.append("X")  # type: ignore[attr-defined]


# ---------------------------------------------------------------- error messages


def test_wrong_type_names_file_key_expected_and_found(tmp_path: Path) -> None:
    path = write(tmp_path, "data_sources", "kalshi:\n  poll_interval_seconds: abc\n")
    assert problems(tmp_path, {}) == (
        f"{path}: kalshi.poll_interval_seconds: expected a number, found 'abc'",
    )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("trading", "min_edge: 1.5\n", "min_edge: expected a value <= 1, found 1.5"),
        ("trading", "max_position_dollars: -1\n", "max_position_dollars: expected a value >= 0"),
        ("trading", "kelly_fraction: true\n", "kelly_fraction: expected a number, found true"),
        ("system", "logging:\n  level: LOUD\n", "logging.level: expected one of 'DEBUG'"),
        ("system", "database:\n  pool_max_size: 2.5\n", "expected an integer, found 2.5"),
        ("system", "logging:\n  console: 1\n", "logging.console: expected true or false"),
        ("data_sources", "espn:\n  leagues: [nfl, mlb]\n", "espn.leagues[1]: expected one of"),
        ("data_sources", "kalshi:\n  series: [A, A]\n", "kalshi.series: duplicate entries: A"),
        ("data_sources", "kalshi:\n  mode: paper\n", "kalshi.mode: expected one of 'sandbox'"),
        ("data_sources", "kalshi:\n  poll_intervl: 3\n", "did you mean 'poll_interval_seconds'?"),
        ("markets", "kalshi:\n  min_price: 0.015\n", "kalshi: min_price (0.015) is not a multiple"),
        ("position_management", "max_open_positions: 0\n", "expected a value >= 1, found 0"),
        (
            "trade_strategies",
            "strategies:\n  x:\n    type: value\n",
            "strategies.x.enabled: missing",
        ),
        ("system", "- a list\n", "expected a mapping of keys, found a list"),
    ],
)
def test_invalid_values_are_reported_with_key_path(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = write(tmp_path, name, text)
    found = problems(tmp_path, {})
    assert any(line.startswith(f"{path}: ") and problem in line for line in found), found


def test_yaml_syntax_error_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "trading", "min_edge: 0.05\nkelly_fraction: [0.25\n")
    (line,) = problems(tmp_path, {})
    assert line.startswith(f"{path}: line 3, column 1: invalid YAML: ")
    assert "\n" not in line


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "trading", "min_edge: 2\n")
    write(tmp_path, "markets", "kalshi: [\n")
    write(tmp_path, "system", "logging:\n  level: 5\n")
    assert len(problems(tmp_path, {})) == 3


def test_error_string_is_one_line_pointing_at_validate(tmp_path: Path) -> None:
    write(tmp_path, "trading", "min_edge: 2\nkelly_fraction: 0\n")
    with pytest.raises(ConfigError) as caught:
        ConfigLoader(tmp_path, environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("(and 1 more; run `precog config validate` to list them)")


def test_unknown_file_in_config_dir_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "tradng.yaml").write_text("min_edge: 0.1\n")
    (tmp_path / "system.yml").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    found = problems(tmp_path, {})
    assert len(found) == 2
    assert all("not a configuration file name; expected one of system.yaml" in p for p in found)


def test_config_dir_must_be_a_directory(tmp_path: Path) -> None:
    assert problems(tmp_path / "missing", {}) == (
        f"PRECOG_CONFIG_DIR={tmp_path / 'missing'} is not a directory",
    )


def test_empty_user_file_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "trading", "")
    assert ConfigLoader(tmp_path, {}).settings == ConfigLoader(None, {}).settings


# ---------------------------------------------------------------- interpolation


def test_interpolation_uses_variable_default_and_empty_fallback(tmp_path: Path) -> None:
    write(tmp_path, "system", "logging:\n  dir: ${LOGS:-/var/log/precog}/${APP}\n")
    settings = ConfigLoader(tmp_path, {"APP": "collector"}).settings
    assert settings.system.logging.dir == Path("/var/log/precog/collector")
    settings = ConfigLoader(tmp_path, {"APP": "c", "LOGS": "/x"}).settings
    assert settings.system.logging.dir == Path("/x/c")
    settings = ConfigLoader(tmp_path, {"APP": "c", "LOGS": ""}).settings
    assert settings.system.logging.dir == Path("/var/log/precog/c")


def test_default_log_dir_follows_precog_home_and_expands_tilde() -> None:
    assert ConfigLoader(None, {}).settings.system.logging.dir == Path.home() / ".precog/logs"
    settings = ConfigLoader(None, {"PRECOG_HOME": "/data/p"}).settings
    assert settings.system.logging.dir == Path("/data/p/logs")


def test_missing_variable_names_file_key_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "system", "logging:\n  json_file: ${LOG_NAME}.jsonl\n")
    assert problems(tmp_path, {}) == (
        f"{path}: logging.json_file: environment variable LOG_NAME is not set or empty (set it, or "
        "write ${LOG_NAME:-default} to give a default)",
    )


# ---------------------------------------------------------------- environment overrides


def test_environment_override_parses_yaml_values() -> None:
    settings = ConfigLoader(
        None,
        {
            "PRECOG__DATA_SOURCES__ESPN__LEAGUES": "[nfl, wnba]",
            "PRECOG__TRADING__MIN_EDGE": "0.07",
            "precog__system__logging__console": "false",
            "PRECOG__TRADE_STRATEGIES__STRATEGIES__LIVE_MOMENTUM__ENABLED": "true",
        },
    ).settings
    assert settings.data_sources.espn.leagues == ("nfl", "wnba")
    assert settings.trading.min_edge == Decimal("0.07")
    assert type(settings.trading.min_edge) is Decimal
    assert settings.system.logging.console is False
    assert settings.trade_strategies.strategies["live_momentum"].enabled is True


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        ("PRECOG__TRADING__MIN_EDGX", "unknown key 'min_edgx' in trading.yaml; known keys: "),
        ("PRECOG__DATA_SOURCES__KALSHI__MODE__X", "unknown key 'x' in kalshi.mode"),
        ("PRECOG__NOPE__X", "expected PRECOG__<FILE>__<KEY>"),
        ("PRECOG__TRADING", "expected PRECOG__<FILE>__<KEY>"),
        ("PRECOG__TRADING____MIN_EDGE", "expected PRECOG__<FILE>__<KEY>"),
    ],
)
def test_override_of_unknown_key_names_the_variable(variable: str, problem: str) -> None:
    (line,) = problems(None, {variable: "1"})
    assert line.startswith(f"environment variable {variable}: ")
    assert problem in line


def test_invalid_override_value_names_the_variable() -> None:
    (line,) = problems(None, {"PRECOG__DATA_SOURCES__KALSHI__POLL_INTERVAL_SECONDS": "abc"})
    assert line == (
        "environment variable PRECOG__DATA_SOURCES__KALSHI__POLL_INTERVAL_SECONDS: "
        "kalshi.poll_interval_seconds: expected a number, found 'abc'"
    )
    (line,) = problems(None, {"PRECOG__TRADING__MIN_EDGE": "[0.1"})
    assert line.startswith("environment variable PRECOG__TRADING__MIN_EDGE: line ")
    assert "invalid YAML: while parsing a flow sequence" in line


# ---------------------------------------------------------------- access and masking


def test_dotted_access_and_unknown_keys() -> None:
    loader = ConfigLoader(None, {})
    assert loader.get("data_sources.kalshi.poll_interval_seconds") == 15.0
    assert loader.get("trade_strategies.strategies.halftime_value.type") == "value"
    assert loader.get("markets.kalshi") is loader.settings.markets.kalshi
    for key, message in [
        ("data_sources.kalshi.poll_interval", "no 'poll_interval' in data_sources.kalshi"),
        ("tradin", "no 'tradin' in the configuration; known keys: system,"),
        ("trading.min_edge.value", "trading.min_edge is a value"),
        ("trade_strategies.strategies.ghost", "known keys: halftime_value, live_momentum"),
        ("", "no '' in the configuration"),
    ]:
        with pytest.raises(ConfigError, match=message):
            loader.get(key)


def test_as_dict_views() -> None:
    loader = ConfigLoader(None, {})
    whole = loader.as_dict()
    assert list(whole) == [
        "system",
        "data_sources",
        "markets",
        "probability_models",
        "trading",
        "trade_strategies",
        "position_management",
    ]
    assert loader.as_dict("trading") == whole["trading"]
    assert whole["trading"]["min_edge"] == Decimal("0.05")
    # Plain data for the renderers: a Path setting comes back as its text.
    assert whole["system"]["logging"]["dir"] == str(loader.settings.system.logging.dir)
    with pytest.raises(ConfigError, match="unknown configuration file 'tradin'"):
        loader.as_dict("tradin")


# ---------------------------------------------------------------- reload


def test_reload_picks_up_changes(tmp_path: Path) -> None:
    loader = ConfigLoader(tmp_path, {})
    write(tmp_path, "trading", "min_edge: 0.11\n")
    assert loader.settings.trading.min_edge == Decimal("0.05")
    new = loader.reload()
    assert new is loader.settings
    assert new.trading.min_edge == Decimal("0.11")


def test_config_loader_invalid_yaml_syntax(tmp_path: Path) -> None:
    write(tmp_path, "trading", "min_edge: 0.11\n")
    loader = ConfigLoader(tmp_path, {})
    before = loader.settings
    path = write(tmp_path, "trading", "min_edge: 0.12\n  kelly_fraction: : 0.3\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line 2, column \d+: invalid YAML: "):
        loader.reload()
    assert loader.settings is before
    assert loader.get("trading.min_edge") == Decimal("0.11")


def test_config_loader_missing_environment_variable(tmp_path: Path) -> None:
    environ = {"LOG_DIR": "/var/log/a"}
    path = write(tmp_path, "system", "logging:\n  dir: ${LOG_DIR}\n")
    loader = ConfigLoader(tmp_path, environ)
    before = loader.settings
    del environ["LOG_DIR"]
    with pytest.raises(ConfigError, match=f"^{path}: logging.dir: environment variable LOG_DIR"):
        loader.reload()
    assert loader.settings is before
    assert loader.settings.system.logging.dir == Path("/var/log/a")


def test_config_loader_invalid_data_type(tmp_path: Path) -> None:
    write(tmp_path, "data_sources", "kalshi:\n  poll_interval_seconds: 5\n")
    loader = ConfigLoader(tmp_path, {})
    before = loader.settings
    path = write(tmp_path, "data_sources", "kalshi:\n  poll_interval_seconds: often\n")
    with pytest.raises(ConfigError) as caught:
        loader.reload()
    assert str(caught.value) == (
        f"{path}: kalshi.poll_interval_seconds: expected a number, found 'often'"
    )
    assert loader.settings is before
    assert loader.get("data_sources.kalshi.poll_interval_seconds") == 5.0


def test_config_dir_defaults_to_precog_config_dir(tmp_path: Path) -> None:
    write(tmp_path, "trading", "kelly_fraction: 0.5\n")
    environ = {"PRECOG_CONFIG_DIR": str(tmp_path)}
    loader = ConfigLoader(environ=environ)
    assert loader.config_dir == tmp_path
    assert loader.settings.trading.kelly_fraction == Decimal("0.5")
    del environ["PRECOG_CONFIG_DIR"]
    assert loader.reload().trading.kelly_fraction == Decimal("0.25")
    assert loader.config_dir is None


@pytest.mark.parametrize(
    "tier", ["basic", "advanced", "expert", "premier", "paragon", "prime", "prestige"]
)
def test_every_kalshi_rate_limit_tier_is_accepted(tier: str) -> None:
    # Reference A6 names seven tiers; the limiter knows all of them, so must the schema.
    settings = build_settings(None, {"PRECOG__DATA_SOURCES__KALSHI__RATE_LIMIT_TIER": tier})
    assert settings.data_sources.kalshi.rate_limit_tier == tier


def test_unknown_rate_limit_tier_is_refused_with_the_key_named() -> None:
    found = problems(None, {"PRECOG__DATA_SOURCES__KALSHI__RATE_LIMIT_TIER": "gold"})
    assert any("kalshi.rate_limit_tier" in p for p in found), found
