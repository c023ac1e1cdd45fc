"""End to end: `precog sandbox serve` as a real subprocess prints a ready-to-use key and
client environment; a client signing with that key file is accepted, a wrong signature is
refused with Kalshi's 401 body, and Ctrl-C stops the server cleanly."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from precog.api_connectors.kalshi_auth import KalshiSigner
from tests.plugins.cli_runner import subprocess_env
from tests.plugins.sandbox import new_rsa_key

pytestmark = pytest.mark.module("kalshi_auth")

READY_TIMEOUT = 60.0
BALANCE = "/trade-api/v2/portfolio/balance"


def _lines(stream: IO[str], out: queue.Queue[str]) -> None:
    for line in stream:
        out.put(line)


@pytest.fixture
def served(gate_python: list[str], tmp_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """`precog sandbox serve --json` running; yields (ready line, key dir)."""
    key_dir = tmp_path / "keys"
    stderr_path = tmp_path / "stderr.txt"
    stderr = stderr_path.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            *gate_python,
            "-m",
            "precog",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--seed",
            "7",
            "--markets",
            "12",
            "--tick",
            "0",
            "--key-dir",
            str(key_dir),
            "--json",
        ],
        # Windows delivers Ctrl-Break only to a child that leads its own process group.
        creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        try:
            ready = json.loads(lines.get(timeout=READY_TIMEOUT))
        except queue.Empty:
            process.kill()
            process.wait(timeout=30)
            pytest.fail(f"no ready line within {READY_TIMEOUT}s; stderr: {stderr_path.read_text()}")
        yield ready, key_dir
        # What Ctrl-C is on each platform (Windows: Ctrl-Break to the child's group).
        process.send_signal(getattr(signal, "CTRL_BREAK_EVENT", signal.SIGINT))
        returncode = process.wait(timeout=60)
        reader.join(timeout=30)
        assert not reader.is_alive(), "stdout not closed after exit"
        err = stderr_path.read_text()
        assert returncode == 0, err
        assert "sandbox exchange stopped" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        reader.join(timeout=30)
        process.stdout.close()
        stderr.close()


def test_serve_prints_a_working_key_and_env(served: tuple[dict[str, Any], Path]) -> None:
    ready, key_dir = served
    env = ready["env"]
    assert env["KALSHI_MODE"] == "sandbox"
    assert env["KALSHI_API_BASE_URL"] == ready["base_url"]
    assert ready["base_url"].startswith("http://127.0.0.1:")
    assert ready["base_url"].endswith("/trade-api/v2")
    assert env["TEST_KALSHI_API_KEY"] == ready["key_id"]
    key_path = Path(env["TEST_KALSHI_PRIVATE_KEY_PATH"])
    assert key_path.parent == key_dir
    assert key_path.stat().st_mode & 0o777 == 0o600

    # A client configured only from the printed environment is accepted ...
    signer = KalshiSigner.from_environment({"PRECOG_ENV": "test", **env})
    base = ready["base_url"].removesuffix("/trade-api/v2")
    with httpx.Client(base_url=base, timeout=10) as client:
        balance = client.get(BALANCE, headers=signer.headers("GET", BALANCE))
        assert balance.status_code == 200, balance.text
        assert set(balance.json()) >= {"balance", "balance_dollars", "portfolio_value"}
        markets = client.get("/trade-api/v2/markets", params={"limit": "5"}).json()["markets"]
        assert len(markets) == 5

        # ... and the same key id signed by another key is refused with Kalshi's body.
        impostor = KalshiSigner(ready["key_id"], new_rsa_key())
        refused = client.get(BALANCE, headers=impostor.headers("GET", BALANCE))
        assert refused.status_code == 401
        assert refused.json()["error"]["details"].endswith("INCORRECT_API_KEY_SIGNATURE")
