"""kalshi_auth signing cost, as ratios measured in the same run:

- Ed25519 header signing vs RSA-PSS-2048 header signing (why an Ed25519 key is cheaper);
- RSA-PSS verification (what the exchange does) vs RSA-PSS signing (what we pay per request);
- a signed request to the sandbox over loopback vs an unsigned one: the per-request cost of
  auth (sign here + verify there) relative to a whole HTTP round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from precog.sandbox.server import SandboxServer
from tests.plugins.sandbox import new_rsa_key

pytestmark = pytest.mark.module("kalshi_auth")

PATH = "/trade-api/v2/portfolio/positions?limit=100&settlement_status=all"
CompareSpeed = Any


def test_ed25519_signing_is_faster_than_rsa_pss(compare_speed: CompareSpeed) -> None:
    rsa_signer = KalshiSigner("rsa", new_rsa_key())
    ed_signer = KalshiSigner("ed", ed25519.Ed25519PrivateKey.generate())
    result = compare_speed(
        baseline=lambda: rsa_signer.headers("GET", PATH),
        candidate=lambda: ed_signer.headers("GET", PATH),
        min_speedup=3.0,
        baseline_name="RSA-PSS-2048 headers",
        candidate_name="Ed25519 headers",
    )
    assert result.candidate_median < result.baseline_median


def test_rsa_verification_is_cheaper_than_signing(compare_speed: CompareSpeed) -> None:
    key = new_rsa_key()
    signer = KalshiSigner("rsa", key)
    headers = signer.headers("GET", PATH)
    message = presign_message(headers[HEADER_TIMESTAMP], "GET", PATH)
    public = key.public_key()
    verify: Callable[[], bool] = lambda: verify_signature(  # noqa: E731
        public, message, headers[HEADER_SIGNATURE]
    )
    assert verify()
    compare_speed(
        baseline=lambda: signer.headers("GET", PATH),
        candidate=verify,
        min_speedup=3.0,
        baseline_name="RSA-PSS sign (client, per request)",
        candidate_name="RSA-PSS verify (exchange side)",
    )


async def test_signed_request_costs_at_most_a_few_unsigned_round_trips(
    compare_speed: CompareSpeed,
) -> None:
    key = new_rsa_key()
    async with SandboxServer(seed=1, markets=5) as server:
        signer = KalshiSigner(server.keys.register(key.public_key()), key)
        balance = "/trade-api/v2/portfolio/balance"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def unsigned() -> None:
                response = await client.get("/trade-api/v2/exchange/status")
                assert response.status_code == 200

            async def signed() -> None:
                response = await client.get(balance, headers=signer.headers("GET", balance))
                assert response.status_code == 200

            # Ratio < 1: the signed request may be at most 4x slower than an unsigned one.
            result = await compare_speed.async_(
                baseline=unsigned,
                candidate=signed,
                min_speedup=0.25,
                baseline_name="unsigned loopback request",
                candidate_name="RSA-signed loopback request",
            )
    assert server.authenticator.accepted > 0
    assert sum(server.authenticator.refused.values()) == 0
    assert result.candidate_median > 0
