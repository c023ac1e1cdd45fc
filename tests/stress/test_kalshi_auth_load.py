"""kalshi_auth under load: thousands of signatures all verify (and only for their own
message), and hundreds of concurrent signed requests to the sandbox are all accepted
without leaking connections or threads."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from precog.api_connectors.kalshi_auth import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    presign_message,
    verify_signature,
)
from tests.plugins.sandbox import RunningSandbox, SandboxFactory, new_rsa_key

pytestmark = pytest.mark.module("kalshi_auth")


@pytest.mark.timeout(120)
def test_thousands_of_signatures_verify() -> None:
    rsa_key = new_rsa_key()
    ed_key = ed25519.Ed25519PrivateKey.generate()
    signers = [
        (KalshiSigner("rsa", rsa_key), rsa_key, 1500),
        (KalshiSigner("ed", ed_key), ed_key, 5000),
    ]
    for signer, key, count in signers:
        public = key.public_key()
        seen: set[str] = set()
        for i in range(count):
            path = f"/trade-api/v2/markets/T{i}/orderbook"
            headers = signer.headers("GET", f"{path}?depth={i}", timestamp_ms=1_790_000_000_000 + i)
            message = presign_message(headers[HEADER_TIMESTAMP], "GET", path)
            assert verify_signature(public, message, headers[HEADER_SIGNATURE]), i
            # Each signature is bound to its own request: the neighbour's message fails.
            neighbour = presign_message(headers[HEADER_TIMESTAMP], "GET", path + "x")
            assert not verify_signature(public, neighbour, headers[HEADER_SIGNATURE]), i
            seen.add(headers[HEADER_SIGNATURE])
        assert len(seen) == count  # every (message, randomised or not) signature distinct


@pytest.mark.timeout(120)
async def test_hundreds_of_concurrent_signed_requests_are_all_accepted(
    sandbox: RunningSandbox,
) -> None:
    threads_before = threading.active_count()
    paths = [
        "/trade-api/v2/portfolio/balance",
        "/trade-api/v2/portfolio/positions",
        "/trade-api/v2/portfolio/fills",
        "/trade-api/v2/portfolio/settlements",
        "/trade-api/v2/portfolio/orders",
    ]
    total = 300
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=60, limits=limits) as client:

        async def one(i: int) -> tuple[int, str]:
            path = paths[i % len(paths)]
            response = await client.get(
                path, params={"limit": "3"}, headers=sandbox.signer.headers("GET", path)
            )
            return response.status_code, path

        results = await asyncio.gather(*(one(i) for i in range(total)))

    statuses = [status for status, _ in results]
    assert statuses.count(200) == total, {s: statuses.count(s) for s in set(statuses)}
    check = sandbox.server.authenticator
    assert check.accepted == total
    assert sum(check.refused.values()) == 0
    assert sum(sandbox.server.requests.values()) == total
    # The balance is read-only: every response agreed with the exchange's own view.
    assert sandbox.exchange.portfolio_problems() == []
    assert threading.active_count() == threads_before  # no thread leaked by the load


@pytest.mark.timeout(120)
async def test_many_keys_many_clients(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(markets=5)
    signers = []
    for _ in range(20):
        key = ed25519.Ed25519PrivateKey.generate()
        signers.append(KalshiSigner(running.keys.register(key.public_key()), key))
    path = "/trade-api/v2/portfolio/balance"
    async with httpx.AsyncClient(base_url=running.url, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.get(path, headers=s.headers("GET", path)) for s in signers for _ in range(5))
        )
    assert [r.status_code for r in responses] == [200] * 100
    assert running.server.authenticator.accepted == 100
