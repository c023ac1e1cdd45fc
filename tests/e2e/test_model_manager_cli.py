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
    changed = tmp_path / "changed.json"
    changed.write_text('{"k_factor": 24, "home_advantage": 0.0600}')

    def cli(*args: str, ok: bool = True) -> Any:
        result = precog_cli("models", *args, env=db_env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    created = cli("create", "elo-nfl", "1.10", "--class", "elo", "--config", str(yaml_file),
                  "--description", "home edge")  # fmt: skip
    assert "created elo-nfl 1.10.0 (elo, draft, id 1)" in created.stdout

    # The four refusals (unknown class, duplicate version, changed config, illegal step):
    # one line on stderr, exit code 2, nothing stored or changed.
    _one_error_line(
        cli("create", "nn", "1.0", "--class", "neural", "--config", str(yaml_file), ok=False),
        "unknown model class 'neural'; use one of: elo, ensemble, ml, regression",
    )
    _one_error_line(
        cli("create", "elo-nfl", "1.10", "--class", "elo", "--config", str(yaml_file), ok=False),
        "elo-nfl 1.10.0 already exists; choose a new version",
    )
    _one_error_line(
        cli("create", "elo-nfl", "1.10.0", "--class", "elo", "--config", str(changed), ok=False),
        "elo-nfl 1.10.0 is already stored with a different config",
    )
    _one_error_line(
        cli("activate", "elo-nfl", "1.10", ok=False), "is draft and cannot become active"
    )

    assert "elo-nfl 1.10.0 is now testing" in cli("test", "elo-nfl", "1.10").stdout
    active = _json(cli("activate", "elo-nfl", "1.10.0", "--json").stdout)
    assert (active["status"], active["version"]) == ("active", "1.10.0")
    recorded = cli("metrics", "elo-nfl", "1.10", "--accuracy", "0.6120", "--calibration",
                   "0.0400", "--samples", "1200", "--json")  # fmt: skip
    assert str(_json(recorded.stdout)["metrics"]["accuracy"]) == "0.6120"

    listed = _json(cli("list", "--json").stdout)
    assert [(m["name"], m["version"], m["status"]) for m in listed] == [
        ("elo-nfl", "1.10.0", "active")
    ]
    assert listed[0]["activated_at"] is not None
    assert listed[0]["config"] == {
        "k_factor": 20,
        "home_advantage": Decimal("0.0550"),
        "weights": [Decimal("0.50"), Decimal("1.25")],
    }
    text = cli("show", "elo-nfl").stdout  # no version: the highest
    assert "version: 1.10.0" in text
    assert "home_advantage: 0.0550" in text
    assert "accuracy=0.6120" in text

    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT version, status, description, config->>'home_advantage', "
            "metrics->>'calibration' FROM probability_models"
        ).fetchall()
    assert rows == [("1.10.0", "active", "home edge", "0.0550", "0.0400")]
