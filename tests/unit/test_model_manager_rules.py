"""model_manager's pure rules: versions, config validation, lifecycle table, metrics ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from precog.analytics import model_manager as mm
from precog.analytics.model_manager import (
    TRANSITIONS,
    DuplicateVersionError,
    IllegalTransitionError,
    ImmutableConfigError,
    InvalidModelInputError,
    ModelMetrics,
    ModelNotFoundError,
    ModelVersion,
    UnknownModelClassError,
    canonical_version,
    validate_config,
    validate_name,
)
from precog.cli.model_commands import read_config_file
from precog.database.crud_operations.models import dumps_exact, loads_exact
from precog.errors import EXIT_USAGE, ConfigError

pytestmark = pytest.mark.module("model_manager")

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_versions_order_semantically_not_as_text() -> None:
    assert ModelVersion.parse("1.10") > ModelVersion.parse("1.9")
    assert ModelVersion.parse("2") > ModelVersion.parse("1.99.99")
    assert ModelVersion.parse("1.2.10") > ModelVersion.parse("1.2.9")
    assert ModelVersion.parse("1.2") == ModelVersion.parse("1.2.0")
    assert canonical_version("1.10") == "1.10.0"
    assert canonical_version(" 3 ") == "3.0.0"
    assert str(ModelVersion(0, 0, 999_999_999)) == "0.0.999999999"


@pytest.mark.parametrize(
    "text", ["", "1.", ".1", "01.2", "1.02", "1.2.3.4", "v1.0", "1.-1", "1.x", "1234567890", "1 .2"]
)
def test_malformed_versions_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidModelInputError, match=r"MAJOR\[\.MINOR\[\.PATCH\]\]"):
        ModelVersion.parse(text)


def test_names() -> None:
    assert validate_name("elo-nfl_v2.home:adj") == "elo-nfl_v2.home:adj"
    for bad in ("", "-elo", "elo nfl", "x" * 101, "élo"):
        with pytest.raises(InvalidModelInputError, match="model name"):
            validate_name(bad)


def test_config_is_canonical_and_exact() -> None:
    config = {
        "k_factor": 20,
        "home_advantage": Decimal("0.0550"),
        "whole": Decimal("5"),
        "scaled": Decimal("1E+2"),
        "negative_zero": Decimal("-0.00"),
        "weights": (Decimal("0.5"), Decimal("-1.25")),
        "nested": {"on": True, "off": None, "label": "nfl ✓"},
    }
    canonical = validate_config(config)
    assert canonical == {
        "k_factor": 20,
        "home_advantage": Decimal("0.0550"),
        "whole": 5,
        "scaled": 100,
        "negative_zero": Decimal("0.00"),
        "weights": [Decimal("0.5"), Decimal("-1.25")],
        "nested": {"on": True, "off": None, "label": "nfl ✓"},
    }
    assert type(canonical["whole"]) is int
    assert str(canonical["home_advantage"]) == "0.0550"
    assert str(canonical["negative_zero"]) == "0.00"
    # The storage text keeps every digit, and reads back to the same values and types.
    text = dumps_exact(canonical)
    assert '"home_advantage":0.0550' in text
    assert '"whole":5' in text
    back = loads_exact(text)
    assert back == canonical
    assert str(back["home_advantage"]) == "0.0550"
    assert validate_config(back) == canonical


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"alpha": 0.1}, r"config\.alpha: 0\.1 is a float"),
        ({"w": [Decimal(1), 2.5]}, r"config\.w\[1\]: 2\.5 is a float"),
        ({"x": Decimal("NaN")}, r"config\.x: NaN is not a finite number"),
        ({"x": Decimal("-Infinity")}, "not a finite number"),
        ({1: "a"}, "key 1 is not a string"),
        ({"s": {1, 2}}, "set is not allowed"),
        ({"s": "a\x00b"}, "NUL"),
        ({"s": "\ud800"}, "not valid Unicode"),
        ({"x": Decimal("1E-101")}, "more than 100 digits"),
        ({"x": 10**100}, "more than 100 digits"),
    ],
)
def test_invalid_configs_name_the_path_and_the_problem(config: object, message: str) -> None:
    with pytest.raises(InvalidModelInputError, match=message):
        validate_config(config)


def test_config_must_be_a_mapping_and_not_too_deep() -> None:
    with pytest.raises(InvalidModelInputError, match="must be a mapping"):
        validate_config([1, 2])
    deep: dict[str, object] = {}
    node = deep
    for _ in range(mm.MAX_DEPTH + 1):
        node["n"] = {}
        node = node["n"]  # type: ignore[assignment]
    with pytest.raises(InvalidModelInputError, match="nested deeper"):
        validate_config(deep)


def test_config_files_are_read_exactly_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "m.yaml"
    yaml_file.write_text("k: 20\nedge: 0.0550\nw: [0.50, 1]\n")
    json_file = tmp_path / "m.JSON"
    json_file.write_text('{"k": 20, "edge": 0.0550, "w": [0.50, 1]}')
    expected = {"k": 20, "edge": Decimal("0.0550"), "w": [Decimal("0.50"), 1]}
    for path in (yaml_file, json_file):
        config = validate_config(read_config_file(path))
        assert config == expected
        assert str(config["edge"]) == "0.0550"
    bad = {
        "broken.json": ('{"k": ', r"broken\.json: line 1, column 7: invalid JSON"),
        "nan.json": ('{"k": NaN}', "NaN is not a number"),
        "empty.yaml": ("", "must be a mapping of settings .*found nothing"),
        "list.yaml": ("- 1\n", "found list"),
        "m.toml": ("k = 1", r"must end in \.yaml, \.yml or \.json"),
    }
    for name, (text, message) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=message):
            read_config_file(tmp_path / name)
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path / "missing.yaml")
    (tmp_path / "nan.yaml").write_text("k: .nan\n")
    with pytest.raises(InvalidModelInputError, match=r"config\.k: NaN is not a finite number"):
        validate_config(read_config_file(tmp_path / "nan.yaml"))


def test_lifecycle_allows_exactly_the_forward_steps() -> None:
    states = [*mm.LIFECYCLE, "retired"]
    allowed = {(a, b) for a in states for b in states if mm.allowed_transition(a, b)}
    assert allowed == {
        ("draft", "testing"),
        ("draft", "deprecated"),
        ("testing", "active"),
        ("testing", "deprecated"),
        ("active", "deprecated"),
    }
    assert set(TRANSITIONS) == set(mm.LIFECYCLE)


def test_every_model_error_is_a_usage_error_with_exit_code_2() -> None:
    errors = []
    for attempt in (lambda: validate_name(""), lambda: validate_config(None)):
        with pytest.raises(InvalidModelInputError) as info:
            attempt()
        errors.append(info.value)
    errors += [
        cls("x")
        for cls in (
            UnknownModelClassError,
            DuplicateVersionError,
            ImmutableConfigError,
            IllegalTransitionError,
            ModelNotFoundError,
        )
    ]
    assert [e.exit_code for e in errors] == [EXIT_USAGE] * 7


def test_metrics_ranges() -> None:
    good = ModelMetrics(Decimal("0.612"), Decimal("0.0400"), 1200, NOW)
    assert ModelMetrics.from_json(loads_exact(dumps_exact(good.to_json()))) == good
    assert ModelMetrics(Decimal(1), Decimal(0), 1, NOW).accuracy == 1
    bad = [
        (Decimal("1.01"), Decimal("0.1"), 10, NOW, "accuracy must be a decimal between 0 and 1"),
        (Decimal("-0.1"), Decimal("0.1"), 10, NOW, "accuracy"),
        (Decimal("0.5"), Decimal("NaN"), 10, NOW, "calibration"),
        (0.5, Decimal("0.1"), 10, NOW, "accuracy"),
        (Decimal("0.5"), Decimal("0.1"), 0, NOW, "sample_size must be at least 1"),
        (Decimal("0.5"), Decimal("0.1"), True, NOW, "whole number"),
        (Decimal("0.5"), Decimal("0.1"), 10, datetime(2026, 1, 1), "timezone"),
    ]
    for accuracy, calibration, samples, at, message in bad:
        with pytest.raises(InvalidModelInputError, match=message):
            ModelMetrics(accuracy, calibration, samples, at)  # type: ignore[arg-type]
