"""`precog sandbox serve` refusals, as a subprocess (the sandbox is not one of the eleven
modules, so these tests declare none)."""

from __future__ import annotations

from pathlib import Path

from tests.plugins.cli_runner import PrecogCli


def test_serve_refuses_prod_environment(precog_cli: PrecogCli, tmp_path: Path) -> None:
    result = precog_cli(
        "sandbox",
        "serve",
        "--duration",
        "1",
        "--key-dir",
        str(tmp_path),
        env={"PRECOG_ENV": "prod"},
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: refusing KALSHI_MODE=sandbox with PRECOG_ENV=prod")
    assert list(tmp_path.iterdir()) == []  # no key written


def test_serve_runs_for_a_bounded_duration(precog_cli: PrecogCli, tmp_path: Path) -> None:
    result = precog_cli(
        "sandbox",
        "serve",
        "--duration",
        "0.5",
        "--markets",
        "3",
        "--key-dir",
        str(tmp_path),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sandbox exchange ready: http://127.0.0.1:")
    key_file = next(tmp_path.iterdir())
    assert f"  export TEST_KALSHI_PRIVATE_KEY_PATH={key_file}" in lines
    assert f"key id: {key_file.stem.removeprefix('sandbox-')}" in lines
    assert "sandbox exchange stopped" in result.stderr
