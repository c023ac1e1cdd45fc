"""Typed schemas of the seven configuration files and the `Settings` snapshot built from them.

Every model is frozen and rejects unknown keys. Money and probabilities are `Decimal` by
type (`Money`, `Probability`), durations and rates are finite positive floats, and
sequences are tuples, so a `Settings` object is immutable all the way down. Defaults live
only in the packaged YAML files (config/defaults/), never here: every key is required, so
a key missing from the defaults is a bug caught at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    model_validator,
)

from precog.config.environment import KalshiMode


def _not_bool(value: Any) -> Any:
    # pydantic would read `true` as 1.0; a boolean where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, found {str(value).lower()}")
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise ValueError(f"duplicate entries: {', '.join(duplicates)}")
    return values


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


Money = Annotated[Decimal, BeforeValidator(_not_bool), Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[Decimal, BeforeValidator(_not_bool), Field(ge=0, le=1, allow_inf_nan=False)]
Fraction = Annotated[Decimal, BeforeValidator(_not_bool), Field(gt=0, le=1, allow_inf_nan=False)]
Seconds = Annotated[float, BeforeValidator(_not_bool), Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
SeriesTicker = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9._-]*$")]
League = Literal["nfl", "ncaaf", "nba", "ncaab", "nhl", "wnba"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
# Kalshi usage tiers (reference A6); the same names as `rate_limiter.Tier`.
RateLimitTier = Literal["basic", "advanced", "expert", "premier", "paragon", "prime", "prestige"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- system.yaml


class DatabaseConfig(_Section):
    pool_min_size: Annotated[StrictInt, Field(ge=0)]
    pool_max_size: Annotated[StrictInt, Field(ge=1)]
    pool_timeout_seconds: Seconds

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"pool_min_size ({self.pool_min_size}) exceeds pool_max_size ({self.pool_max_size})"
            )
        return self


class LoggingConfig(_Section):
    level: Annotated[LogLevel, BeforeValidator(_upper)]
    dir: Annotated[Path, AfterValidator(Path.expanduser)]
    json_file: Annotated[str, Field(pattern=r"^[^/\\]+$")]  # a file name inside `dir`
    max_bytes: Annotated[StrictInt, Field(ge=1024)]
    backup_count: Annotated[StrictInt, Field(ge=0)]
    console: StrictBool


class SystemConfig(_Section):
    database: DatabaseConfig
    logging: LoggingConfig


# ---------------------------------------------------------------- data_sources.yaml


class KalshiSourceConfig(_Section):
    mode: KalshiMode
    series: Annotated[tuple[SeriesTicker, ...], AfterValidator(_unique)]
    poll_interval_seconds: Seconds
    stale_after_seconds: Seconds
    rate_limit_tier: RateLimitTier


class EspnSourceConfig(_Section):
    leagues: Annotated[tuple[League, ...], AfterValidator(_unique)]
    live_poll_seconds: Seconds
    idle_poll_seconds: Seconds
    requests_per_second: Seconds  # a positive finite rate

    @model_validator(mode="after")
    def _idle_not_faster_than_live(self) -> Self:
        if self.idle_poll_seconds < self.live_poll_seconds:
            raise ValueError(
                f"idle_poll_seconds ({self.idle_poll_seconds}) is shorter than "
                f"live_poll_seconds ({self.live_poll_seconds})"
            )
        return self


class DataSourcesConfig(_Section):
    kalshi: KalshiSourceConfig
    espn: EspnSourceConfig


# ---------------------------------------------------------------- markets.yaml


class KalshiMarketConfig(_Section):
    fee_rate: Probability
    tick_size: Fraction
    min_price: Probability
    max_price: Probability

    @model_validator(mode="after")
    def _price_band(self) -> Self:
        if self.min_price >= self.max_price:
            raise ValueError(
                f"min_price ({self.min_price}) must be below max_price ({self.max_price})"
            )
        for name, price in (("min_price", self.min_price), ("max_price", self.max_price)):
            if price % self.tick_size:
                raise ValueError(
                    f"{name} ({price}) is not a multiple of tick_size ({self.tick_size})"
                )
        return self


class MarketsConfig(_Section):
    kalshi: KalshiMarketConfig


# ---------------------------------------------------------------- probability_models.yaml


class ProbabilityModelsConfig(_Section):
    model_classes: Annotated[tuple[Name, ...], Field(min_length=1), AfterValidator(_unique)]
    min_confidence: Probability


# ---------------------------------------------------------------- trading.yaml


class TradingConfig(_Section):
    max_position_dollars: Money
    max_total_exposure_dollars: Money
    min_edge: Probability
    kelly_fraction: Fraction

    @model_validator(mode="after")
    def _position_within_exposure(self) -> Self:
        if self.max_position_dollars > self.max_total_exposure_dollars:
            raise ValueError(
                f"max_position_dollars ({self.max_position_dollars}) exceeds "
                f"max_total_exposure_dollars ({self.max_total_exposure_dollars})"
            )
        return self


# ---------------------------------------------------------------- trade_strategies.yaml


class StrategyConfig(_Section):
    type: Name
    enabled: StrictBool
    min_edge: Probability


class TradeStrategiesConfig(_Section):
    strategies: Mapping[Name, StrategyConfig]


# ---------------------------------------------------------------- position_management.yaml


class PositionManagementConfig(_Section):
    stop_loss_pct: Fraction
    take_profit_pct: Annotated[
        Decimal, BeforeValidator(_not_bool), Field(gt=0, allow_inf_nan=False)
    ]
    max_open_positions: Annotated[StrictInt, Field(ge=1)]


# ---------------------------------------------------------------- the snapshot


class Settings(_Section):
    """The whole configuration: one field per file, named like the file."""

    system: SystemConfig
    data_sources: DataSourcesConfig
    markets: MarketsConfig
    probability_models: ProbabilityModelsConfig
    trading: TradingConfig
    trade_strategies: TradeStrategiesConfig
    position_management: PositionManagementConfig


SECTIONS: Mapping[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}
"""File stem -> schema of that file, in load order."""
