"""kalshi_auth under real faults.

- Sandbox fault switches during signed requests: connection resets, malformed bodies, 5xx and
  latency hit signed requests; once the faults pass, freshly signed requests are accepted
  again (a signature never outlives its timestamp window: a request delayed beyond the skew
  limit is refused as expired, and re-signing fixes it).
- The key file deleted, truncated or replaced by garbage during a rotation: the rotation fails
  with AuthConfigError and the old key stays in use, accepted by the exchange throughout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from precog.api_connectors.kalshi_auth import AuthConfigError, KalshiSigner, public_key_pem
from tests.plugins.sandbox import (
    RunningSandbox,
    SandboxFactory,
    new_rsa_key,
    write_private_key,
)

pytestmark = pytest.mark.module("kalshi_auth")

BALANCE = "/trade-api/v2/portfolio/balance"


async def _signed_get(client: httpx.AsyncClient, signer: KalshiSigner, path: str) -> httpx.Response:
    return await client.get(path, headers=signer.headers("GET", path))


async def test_resets_and_malformed_bodies_then_recovery(sandbox: RunningSandbox) -> None:
    signer = KalshiSigner.from_file(sandbox.key_id, sandbox.private_key_path)
    sandbox.faults.configure(reset_next=3, malformed_next=2, endpoints=["/portfolio/balance"])
    resets = malformed = 0
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        for _ in range(5):
            try:
                response = await _signed_get(client, signer, BALANCE)
            except httpx.TransportError:
                resets += 1
                continue
            assert response.status_code == 200
            with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra data"):
                response.json()
            malformed += 1
        recovered = await _signed_get(client, signer, BALANCE)
    assert (resets, malformed) == (3, 2)
    assert recovered.status_code == 200
    assert recovered.json()["balance"] > 0
    # The malformed answers were authenticated (auth ran) before the body was broken.
    assert sandbox.server.authenticator.accepted == 3
    assert sum(sandbox.server.authenticator.refused.values()) == 0


async def test_server_errors_do_not_poison_the_signer(sandbox: RunningSandbox) -> None:
    sandbox.faults.configure(error_rates={"/portfolio/balance": 1.0}, error_status=503)
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        failed = [await _signed_get(client, sandbox.signer, BALANCE) for _ in range(3)]
        assert {r.status_code for r in failed} == {503}
        assert failed[0].json()["error"]["code"] == "internal_server_error"
        sandbox.faults.reset()
        assert (await _signed_get(client, sandbox.signer, BALANCE)).status_code == 200


async def test_latency_beyond_the_skew_window_expires_the_signature(
    sandbox_factory: SandboxFactory,
) -> None:
    running = sandbox_factory(markets=5, max_skew=1.0)
    running.faults.configure(latency_by_endpoint={"/portfolio/balance": 1.5})
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
        late = await _signed_get(client, running.signer, BALANCE)
        assert late.status_code == 401
        assert late.json()["error"]["code"] == "header_timestamp_expired"
        running.faults.configure(latency_by_endpoint={"/portfolio/balance": 0.2})
        slow_but_fresh = await _signed_get(client, running.signer, BALANCE)
        assert slow_but_fresh.status_code == 200


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated", "emptied"])
async def test_rotation_to_a_broken_key_file_keeps_the_old_key(
    sandbox: RunningSandbox, tmp_path: Path, damage: str
) -> None:
    signer = KalshiSigner.from_file(sandbox.key_id, sandbox.private_key_path)
    new_key = new_rsa_key()
    new_path = write_private_key(new_key, tmp_path / "new.key")
    new_key_id = sandbox.keys.register(public_key_pem(new_key))
    # The new key file is damaged between provisioning and rotation.
    if damage == "deleted":
        new_path.unlink()
    elif damage == "garbage":
        new_path.write_bytes(b"\x00\xffnot a key at all\n")
    elif damage == "truncated":
        new_path.write_bytes(new_path.read_bytes()[:300])
    else:
        new_path.write_bytes(b"")

    with pytest.raises(AuthConfigError) as info:
        signer.rotate_from_file(new_key_id, new_path)
    assert "\n" not in str(info.value)
    assert signer.key_id == sandbox.key_id
    assert signer.rotations == 0
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        response = await _signed_get(client, signer, BALANCE)
    assert response.status_code == 200, response.text


async def test_garbage_rotation_during_live_traffic_loses_no_request(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    signer = KalshiSigner.from_file(sandbox.key_id, sandbox.private_key_path)
    garbage = tmp_path / "garbage.key"
    garbage.write_text("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    failures: list[str] = []
    statuses: list[int] = []

    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as client:

        async def traffic() -> None:
            for _ in range(15):
                statuses.append((await _signed_get(client, signer, BALANCE)).status_code)

        async def rotations() -> None:
            for _ in range(10):
                try:
                    signer.rotate_from_file("never-used", garbage)
                except AuthConfigError as exc:
                    failures.append(str(exc))
                await asyncio.sleep(0)

        await asyncio.wait_for(asyncio.gather(rotations(), *(traffic() for _ in range(4))), 90)

    assert len(failures) == 10
    assert statuses == [200] * 60
    assert signer.key_id == sandbox.key_id
