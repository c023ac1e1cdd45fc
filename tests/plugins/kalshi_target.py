"""Which Kalshi exchange the client's integration/e2e tests talk to: `--kalshi-target`.

Default `sandbox`: a local sandbox exchange (tests/plugins/sandbox.py) — always available,
so these tests are never skipped. `--kalshi-target=demo` points the same tests at Kalshi's
real demo exchange with `DEV_KALSHI_API_KEY` / `DEV_KALSHI_PRIVATE_KEY_PATH` (the session
refuses to start when they are missing, rather than skipping anything).

    kalshi_target.name        "sandbox" | "demo"
    kalshi_target.base_url    REST base URL (.../trade-api/v2)
    kalshi_target.signer      a KalshiSigner accepted by that exchange
    kalshi_target.env         variables for a `precog` subprocess (PRECOG_ENV=test prefix)
    kalshi_target.sandbox     the RunningSandbox, or None against demo
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from precog.api_connectors.kalshi_auth import KalshiSigner
from tests.plugins.sandbox import RunningSandbox, SandboxFactory

DEMO_BASE_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_VARIABLES = ("DEV_KALSHI_API_KEY", "DEV_KALSHI_PRIVATE_KEY_PATH")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kalshi-target",
        choices=("sandbox", "demo"),
        default="sandbox",
        help="exchange for the Kalshi client's integration/e2e tests (default: local sandbox)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--kalshi-target") == "demo":
        missing = [name for name in DEMO_VARIABLES if not os.environ.get(name, "").strip()]
        if missing:
            raise pytest.UsageError(
                f"--kalshi-target=demo needs {' and '.join(DEMO_VARIABLES)}; unset: "
                + ", ".join(missing)
            )


@dataclass
class KalshiTarget:
    name: str
    base_url: str
    signer: KalshiSigner
    env: dict[str, str]
    sandbox: RunningSandbox | None


@pytest.fixture
def kalshi_target(request: pytest.FixtureRequest, sandbox_factory: SandboxFactory) -> KalshiTarget:
    if request.config.getoption("--kalshi-target") == "demo":
        key_id = os.environ["DEV_KALSHI_API_KEY"]
        key_path = os.environ["DEV_KALSHI_PRIVATE_KEY_PATH"]
        env = {
            "KALSHI_MODE": "demo",
            "KALSHI_API_BASE_URL": DEMO_BASE_URL,
            # subprocesses run with PRECOG_ENV=test, whose credential prefix is TEST_
            "TEST_KALSHI_API_KEY": key_id,
            "TEST_KALSHI_PRIVATE_KEY_PATH": key_path,
        }
        return KalshiTarget(
            "demo", DEMO_BASE_URL, KalshiSigner.from_file(key_id, key_path), env, None
        )
    running = sandbox_factory()
    return KalshiTarget("sandbox", running.base_url, running.signer, running.env, running)


__all__ = ["KalshiTarget", "kalshi_target"]
