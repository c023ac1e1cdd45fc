"""Reading the cached snapshot is far cheaper than rebuilding it: callers read settings freely
and reload only when the files change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from precog.config.config_loader import ConfigLoader

pytestmark = pytest.mark.module("config_loader")


@pytest.fixture
def loader(tmp_path: Path) -> ConfigLoader:
    (tmp_path / "trading.yaml").write_text("min_edge: 0.04\n", encoding="utf-8")
    return ConfigLoader(tmp_path, environ={"PRECOG__TRADING__KELLY_FRACTION": "0.2"})


def test_dotted_access_vs_reload(compare_speed: Any, loader: ConfigLoader) -> None:
    # measured on the 2-core dev machine: ~0.7-1.1 ms per reload, ~3-5 us per lookup (~200x)
    result = compare_speed(
        baseline=loader.reload,
        candidate=lambda: loader.get("data_sources.kalshi.poll_interval_seconds"),
        min_speedup=20.0,
        baseline_name="reload",
        candidate_name="dotted access",
    )
    assert result.speedup >= 20.0


def test_attribute_access_vs_reload(compare_speed: Any, loader: ConfigLoader) -> None:
    # measured: ~0.2 us per attribute chain (~4000x)
    result = compare_speed(
        baseline=loader.reload,
        candidate=lambda: loader.settings.data_sources.kalshi.poll_interval_seconds,
        min_speedup=100.0,
        baseline_name="reload",
        candidate_name="attribute access",
    )
    assert result.speedup >= 100.0
