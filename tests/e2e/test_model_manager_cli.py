"""`precog models ...` as a user runs it: the whole lifecycle, then the refusals (exit 2)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.plugins.cli_runner import PrecogCli

pytestmark = pytest.mark.module("model_manager")


def _json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _one_error_line(result: Any, fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_models_lifecycle_and_refusals_from_the_command_line(
    precog_cli: PrecogCli, db_env: dict[str, str], tmp_path: Path
) -> None:
    yaml_file = tmp_path / "elo.yaml"
    yaml_file.write_text("k_factor: 20\nhome_advantage: 0.0550\nweights: [0.50, 1.25]\n")
    json_file = tmp_path / "elo.json"
    json_file.write_text('{"k_factor": 24, "home_advantage": 0.0600, "weights": [0.50, 1.5]}')

    def cli(*args: str, ok: bool = True) -> Any:
        result = precog_cli("models", *args, env=db_env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    first = cli("create", "elo-nfl", "1.9", "--class", "elo", "--config", str(yaml_file))
    assert "created elo-nfl 1.9.0 (elo, draft, id 1)" in first.stdout
    second = _json(
        cli("create", "elo-nfl", "1.10", "--class", "elo", "--config", str(json_file),
            "--description", "bigger k", "--json").stdout
    )  # fmt: skip
    assert (second["version"], second["status"]) == ("1.10.0", "draft")
    assert str(second["config"]["home_advantage"]) == "0.0600"

    # The refusals: one line on stderr, exit code 2, nothing stored or changed.
    _one_error_line(
        cli("create", "nn", "1.0", "--class", "neural", "--config", str(yaml_file), ok=False),
        "unknown model class 'neural'; use one of: elo, ensemble, ml, regression",
    )
    _one_error_line(
        cli("create", "elo-nfl", "1.9.0", "--class", "elo", "--config", str(json_file), ok=False),
        "already stored with a different config",
    )
    _one_error_line(
        cli("activate", "elo-nfl", "1.9", ok=False), "is draft and cannot become active"
    )

    cli("test", "elo-nfl", "1.10.0")
    active = _json(cli("activate", "elo-nfl", "1.10", "--json").stdout)
    assert active["status"] == "active"
    recorded = cli("metrics", "elo-nfl", "1.10", "--accuracy", "0.6120", "--calibration",
                   "0.0400", "--samples", "1200", "--json")  # fmt: skip
    assert str(_json(recorded.stdout)["metrics"]["accuracy"]) == "0.6120"

    listed = _json(cli("list", "--name", "elo-nfl", "--json").stdout)
    assert [(m["version"], m["status"]) for m in listed] == [
        ("1.9.0", "draft"),
        ("1.10.0", "active"),
    ]
    assert listed[1]["activated_at"] is not None
    assert listed[1]["config"] == {
        "k_factor": 24,
        "home_advantage": Decimal("0.0600"),
        "weights": [Decimal("0.50"), Decimal("1.5")],
    }
    text = cli("show", "elo-nfl").stdout  # no version: the highest
    assert "version: 1.10.0" in text
    assert "home_advantage: 0.0600" in text
    assert "accuracy=0.6120" in text

    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT version, status, config->>'home_advantage', metrics->>'calibration' "
            "FROM probability_models ORDER BY model_id"
        ).fetchall()
    assert rows == [
        ("1.9.0", "draft", "0.0550", None),
        ("1.10.0", "active", "0.0600", "0.0400"),
    ]
