"""Properties of the configuration: any valid configuration loads to exactly the values that
were written and round-trips YAML -> Settings -> dump -> Settings; any invalid value is
rejected with a message naming its file and key path."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precog.config.config_loader import ConfigLoader, InvalidConfigError
from precog.config.schemas import SECTIONS, RateLimitTier, Settings
from precog.config.yaml_loader import dump_yaml

RATE_TIERS = get_args(RateLimitTier)

pytestmark = pytest.mark.module("config_loader")

DEFAULT_STRATEGIES = {"halftime_value", "live_momentum"}


def decimals(low: str, high: str, places: int = 4) -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=places)


def seconds() -> st.SearchStrategy[Decimal]:
    return decimals("0.001", "86400", places=3)


names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
tickers = st.from_regex(r"[A-Z][A-Z0-9]{0,10}", fullmatch=True)


@st.composite
def system(draw: st.DrawFn) -> dict[str, Any]:
    pool_min = draw(st.integers(0, 50))
    return {
        "database": {
            "pool_min_size": pool_min,
            "pool_max_size": draw(st.integers(max(pool_min, 1), 100)),
            "pool_timeout_seconds": draw(seconds()),
        },
        "logging": {
            "level": draw(st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])),
            "dir": "/" + draw(names),
            "json_file": draw(names) + ".jsonl",
            "max_bytes": draw(st.integers(1024, 2**40)),
            "backup_count": draw(st.integers(0, 1000)),
            "console": draw(st.booleans()),
        },
    }


@st.composite
def data_sources(draw: st.DrawFn) -> dict[str, Any]:
    live = draw(seconds())
    return {
        "kalshi": {
            "mode": draw(st.sampled_from(["sandbox", "demo", "live"])),
            "series": draw(st.lists(tickers, unique=True, max_size=5)),
            "poll_interval_seconds": draw(seconds()),
            "stale_after_seconds": draw(seconds()),
            "rate_limit_tier": draw(st.sampled_from(list(RATE_TIERS))),
        },
        "espn": {
            "leagues": draw(
                st.lists(
                    st.sampled_from(["nfl", "ncaaf", "nba", "ncaab", "nhl", "wnba"]), unique=True
                )
            ),
            "live_poll_seconds": live,
            "idle_poll_seconds": live + draw(decimals("0", "3600", places=3)),
            "requests_per_second": draw(decimals("0.01", "100", places=2)),
        },
    }


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    tick = draw(st.sampled_from([Decimal("0.01"), Decimal("0.001"), Decimal("0.05")]))
    steps = int(1 / tick)
    low = draw(st.integers(0, steps - 1))
    high = draw(st.integers(low + 1, steps))
    return {
        "kalshi": {
            "fee_rate": draw(decimals("0", "1")),
            "tick_size": tick,
            "min_price": low * tick,
            "max_price": high * tick,
        }
    }


@st.composite
def trading(draw: st.DrawFn) -> dict[str, Any]:
    position = draw(decimals("0", "1000000", places=2))
    return {
        "max_position_dollars": position,
        "max_total_exposure_dollars": position + draw(decimals("0", "1000000", places=2)),
        "min_edge": draw(decimals("0", "1")),
        "kelly_fraction": draw(decimals("0.0001", "1")),
    }


strategy = st.fixed_dictionaries(
    {"type": names, "enabled": st.booleans(), "min_edge": decimals("0", "1")}
)

CONFIGS = st.fixed_dictionaries(
    {
        "system": system(),
        "data_sources": data_sources(),
        "markets": markets(),
        "probability_models": st.fixed_dictionaries(
            {
                "model_classes": st.lists(names, min_size=1, max_size=5, unique=True),
                "min_confidence": decimals("0", "1"),
            }
        ),
        "trading": trading(),
        "trade_strategies": st.fixed_dictionaries(
            {"strategies": st.dictionaries(names, strategy, max_size=4)}
        ),
        "position_management": st.fixed_dictionaries(
            {
                "stop_loss_pct": decimals("0.0001", "1"),
                "take_profit_pct": decimals("0.0001", "100"),
                "max_open_positions": st.integers(1, 10_000),
            }
        ),
    }
)


def write_config(directory: Path, config: dict[str, Any]) -> None:
    for name, section in config.items():
        (directory / f"{name}.yaml").write_text(dump_yaml(section), encoding="utf-8")


def plain(value: Any) -> Any:
    """Settings data as written: tuples as lists, enums and paths as strings."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return str(value)
    return value


def expected_view(config: dict[str, Any]) -> dict[str, Any]:
    """What loading `config` over the defaults must give (floats for *_seconds/rates)."""
    expected = plain(config)
    for section in ("kalshi", "espn"):
        for key, value in expected["data_sources"][section].items():
            if isinstance(value, Decimal):
                expected["data_sources"][section][key] = float(value)
    database = expected["system"]["database"]
    database["pool_timeout_seconds"] = float(database["pool_timeout_seconds"])
    return expected


@given(config=CONFIGS)
def test_valid_config_loads_exactly_and_round_trips(config: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        write_config(Path(first), config)
        settings = ConfigLoader(Path(first), environ={}).settings
        loaded = plain(settings.model_dump())
        strategies = loaded["trade_strategies"]["strategies"]
        # user strategies are merged over the packaged ones, which stay unless redefined
        assert set(strategies) == set(config["trade_strategies"]["strategies"]) | DEFAULT_STRATEGIES
        loaded["trade_strategies"]["strategies"] = {
            name: strategies[name] for name in config["trade_strategies"]["strategies"]
        }
        assert loaded == expected_view(config)

        write_config(Path(second), plain(settings.model_dump()))
        again = ConfigLoader(Path(second), environ={}).settings
        assert again == settings
        assert isinstance(again, Settings)


# (file, key path, kind) for scalar fields; each kind has its own invalid values.
FIELDS = [
    ("system", "database.pool_min_size", "count"),
    ("system", "database.pool_max_size", "positive_int"),
    ("system", "database.pool_timeout_seconds", "seconds"),
    ("system", "logging.level", "level"),
    ("system", "logging.max_bytes", "positive_int"),
    ("system", "logging.backup_count", "count"),
    ("system", "logging.console", "bool"),
    ("data_sources", "kalshi.mode", "choice"),
    ("data_sources", "kalshi.poll_interval_seconds", "seconds"),
    ("data_sources", "kalshi.stale_after_seconds", "seconds"),
    ("data_sources", "kalshi.rate_limit_tier", "choice"),
    ("data_sources", "espn.live_poll_seconds", "seconds"),
    ("data_sources", "espn.requests_per_second", "seconds"),
    ("markets", "kalshi.fee_rate", "probability"),
    ("markets", "kalshi.tick_size", "fraction"),
    ("probability_models", "min_confidence", "probability"),
    ("trading", "max_total_exposure_dollars", "money"),
    ("trading", "min_edge", "probability"),
    ("trading", "kelly_fraction", "fraction"),
    ("trade_strategies", "strategies.halftime_value.min_edge", "probability"),
    ("trade_strategies", "strategies.live_momentum.enabled", "bool"),
    ("position_management", "stop_loss_pct", "fraction"),
    ("position_management", "take_profit_pct", "positive_decimal"),
    ("position_management", "max_open_positions", "positive_int"),
]

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
not_numbers = st.one_of(words, st.booleans(), st.lists(st.integers(), max_size=2), st.none())
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "count": st.one_of(not_numbers, st.integers(max_value=-1), decimals("0.01", "99.99", 2)),
    "positive_int": st.one_of(not_numbers, st.integers(max_value=0), decimals("1.01", "9.99", 2)),
    "seconds": st.one_of(not_numbers, decimals("-1000", "0")),
    "money": st.one_of(not_numbers, decimals("-1000000", "-0.0001")),
    "probability": st.one_of(not_numbers, decimals("-10", "-0.0001"), decimals("1.0001", "10")),
    "fraction": st.one_of(not_numbers, decimals("-10", "0"), decimals("1.0001", "10")),
    "positive_decimal": st.one_of(not_numbers, decimals("-10", "0")),
    "bool": st.one_of(words, st.integers(), decimals("0", "1")),
    "choice": st.one_of(
        words.filter(
            lambda w: w not in {"sandbox", "demo", "live", "basic", "advanced", "premier", "prime"}
        ),
        st.integers(),
        st.booleans(),
    ),
    "level": st.one_of(
        words.filter(lambda w: w.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}),
        st.integers(),
    ),
}


def nested(key_path: str, value: Any) -> dict[str, Any]:
    tree: Any = value
    for part in reversed(key_path.split(".")):
        tree = {part: tree}
    return tree


@given(field=st.sampled_from(FIELDS), data=st.data())
def test_any_invalid_value_is_rejected_with_its_key_path(
    field: tuple[str, str, str], data: st.DataObject
) -> None:
    name, key_path, kind = field
    value = data.draw(INVALID[kind], label="invalid value")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{name}.yaml"
        path.write_text(dump_yaml(nested(key_path, value)), encoding="utf-8")
        with pytest.raises(InvalidConfigError) as caught:
            ConfigLoader(Path(directory), environ={})
    assert any(problem.startswith(f"{path}: {key_path}: ") for problem in caught.value.problems), (
        caught.value.problems
    )


def test_invalid_fields_are_real_keys_covering_every_file() -> None:
    loader = ConfigLoader(None, environ={})
    for name, key_path, _ in FIELDS:
        loader.get(f"{name}.{key_path}")  # ConfigError if the table names a key that is gone
    assert {name for name, _, _ in FIELDS} == set(SECTIONS)
