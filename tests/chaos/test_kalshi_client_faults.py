"""kalshi_client under real faults from the sandbox's switches: 5xx storms, 429 bursts,
connection resets, malformed bodies. The client recovers, or fails with the right typed
error after exactly the configured number of retries (counted at the server)."""

from __future__ import annotations

import json
import random

import psycopg
import pytest

from precog.api_connectors.errors import (
    InvalidBodyError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.errors import ServiceUnavailableError
from precog.sandbox.faults import Fault
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy
from tests.plugins.cli_runner import PrecogCli
from tests.plugins.sandbox import RunningSandbox

pytestmark = pytest.mark.module("kalshi_client")

RETRIES = 3


def client_for(sandbox: RunningSandbox, retries: int = RETRIES) -> tuple[KalshiClient, FakeClock]:
    clock = FakeClock()  # backoff sleeps take no real time; the faults are real
    client = KalshiClient(
        sandbox.base_url,
        signer=sandbox.signer,
        limiter=(limiter := AccountLimiter(Tier.PRESTIGE, clock=clock)),
        public_limiter=limiter,
        retry_policy=RetryPolicy(max_retries=retries, rng=random.Random(5)),
        clock=clock,
        timeout=5.0,
    )
    return client, clock


def served(sandbox: RunningSandbox, endpoint: str) -> int:
    return sandbox.server.requests.get(endpoint, 0)


async def test_5xx_storm_fails_after_exactly_the_retries_then_recovers(
    sandbox: RunningSandbox,
) -> None:
    sandbox.faults.configure(error_rates={"/portfolio/balance": 1.0}, error_status=503)
    client, clock = client_for(sandbox)
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.get_balance()
        assert served(sandbox, "/portfolio/balance") == RETRIES + 1
        assert caught.value.status == 503
        assert caught.value.attempts == RETRIES + 1
        assert isinstance(caught.value, ServiceUnavailableError)  # CLI exit 4
        assert len([s for s in clock.sleeps if s > 0]) == RETRIES  # backed off between tries

        sandbox.faults.reset()
        balance = await client.get_balance()
    assert balance.balance == sandbox.exchange.balance


async def test_429_burst_is_absorbed_by_backoff(sandbox: RunningSandbox) -> None:
    sandbox.faults.configure(rate_limit_burst=RETRIES, endpoints=["/markets"])
    client, _ = client_for(sandbox)
    async with client:
        page = await client.get_markets(limit=10)
    assert len(page.items) == 10
    assert served(sandbox, "/markets") == RETRIES + 1
    assert client.stats.retries == RETRIES


async def test_429_burst_longer_than_the_retries_is_rate_limited_error(
    sandbox: RunningSandbox,
) -> None:
    sandbox.faults.configure(rate_limit_burst=10, endpoints=["/markets"])
    client, _ = client_for(sandbox)
    async with client:
        with pytest.raises(RateLimitedError):
            await client.get_markets()
    assert served(sandbox, "/markets") == RETRIES + 1


async def test_connection_resets_recover_or_fail_as_transport_error(
    sandbox: RunningSandbox,
) -> None:
    sandbox.faults.configure(reset_next=2, endpoints=["/exchange/status"])
    client, _ = client_for(sandbox)
    async with client:
        status = await client.get_exchange_status()
        assert status.exchange_active is True
        assert client.stats.retries == 2

        sandbox.faults.configure(reset_next=RETRIES + 1, endpoints=["/exchange/status"])
        with pytest.raises(TransportError) as caught:
            await client.get_exchange_status()
    assert caught.value.exit_code == 4
    assert served(sandbox, "/exchange/status") == 3 + RETRIES + 1


async def test_malformed_bodies_are_retried_then_invalid_body_error(
    sandbox: RunningSandbox,
) -> None:
    sandbox.faults.configure(malformed_next=1, endpoints=["/markets"])
    client, _ = client_for(sandbox)
    async with client:
        page = await client.get_markets(limit=5)
        assert len(page.items) == 5

        sandbox.faults.configure(malformed_rate=1.0, endpoints=["/markets"])
        with pytest.raises(InvalidBodyError):
            await client.get_markets(limit=5)
    assert served(sandbox, "/markets") == 2 + RETRIES + 1


async def test_full_pagination_through_a_flaky_exchange_loses_nothing(
    sandbox: RunningSandbox,
) -> None:
    sandbox.exchange.add_markets(950)
    expected = set(sandbox.exchange.markets)
    sandbox.faults.configure(error_rates={"/markets": 0.3}, reset_rate=0.1, malformed_rate=0.1)
    client, _ = client_for(sandbox, retries=12)
    async with client:
        tickers = [m.ticker async for m in client.iter_markets(limit=50)]
    assert len(tickers) == len(set(tickers))
    assert set(tickers) == expected
    assert client.stats.retries > 0  # faults really happened and were absorbed


def test_fetch_markets_through_a_flaky_exchange_stores_every_market(
    precog_cli: PrecogCli, sandbox: RunningSandbox, db_env: dict[str, str]
) -> None:
    sandbox.exchange.add_markets(450)
    expected = set(sandbox.exchange.markets)
    # ~1 request in 6 fails (5xx, reset or truncated body); the default policy retries 4x.
    # The sandbox's fault RNG is seeded and the requests are sequential: reproducible.
    sandbox.faults.configure(error_rates={"*": 0.1}, reset_rate=0.03, malformed_rate=0.03)
    result = precog_cli(
        "fetch", "markets", "--json", "--page-size", "25", env={**sandbox.env, **db_env}
    )
    assert result.returncode == 0, result.stderr
    assert "retry" in result.stderr  # the faults really hit the command
    out = json.loads(result.stdout)
    assert {m["ticker"] for m in out["markets"]} == expected
    with psycopg.connect(db_env["DATABASE_URL"]) as conn:
        stored = {r[0] for r in conn.execute("SELECT ticker FROM markets WHERE row_current_ind")}
    assert stored == expected  # zero data loss
    assert sandbox.faults.injected[Fault.NONE] < sum(sandbox.faults.injected.values())


def test_fetch_exits_4_when_the_exchange_keeps_failing(
    precog_cli: PrecogCli, sandbox: RunningSandbox
) -> None:
    sandbox.faults.configure(error_rates={"/portfolio/balance": 1.0})
    result = precog_cli("fetch", "balance", "--dry-run", env=sandbox.env)
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1].startswith("error: Kalshi is failing (500)")
    assert "Traceback" not in result.stderr
    assert sandbox.server.requests["/portfolio/balance"] == RetryPolicy().max_retries + 1
