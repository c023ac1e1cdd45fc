"""kalshi_auth key rotation under concurrency: many threads/tasks sign while keys rotate.

Oracles: every signature is made entirely with one (key id, key) pair — the signature always
verifies with the public key of the key id in the same header set; and once `rotate()` has
returned, no signature started afterwards uses an older key (nor is refused by the sandbox
once the old key is revoked)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from precog.api_connectors.kalshi_auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    PrivateKey,
    presign_message,
    verify_signature,
)
from tests.plugins.sandbox import RunningSandbox, new_rsa_key

pytestmark = pytest.mark.module("kalshi_auth")

JOIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Signed:
    worker: int
    generation_before: int  # rotations completed when signing started
    key_id: str
    timestamp: str
    signature: str
    path: str


@pytest.mark.timeout(120)
def test_threads_never_mix_key_id_and_key_during_rotation() -> None:
    keys: list[PrivateKey] = [
        ed25519.Ed25519PrivateKey.generate() if i % 2 else new_rsa_key() for i in range(8)
    ]
    key_ids = [f"key-{i}" for i in range(len(keys))]
    signer = KalshiSigner(key_ids[0], keys[0])
    completed = [0]  # rotations whose rotate() call has returned
    stop = threading.Event()
    start = threading.Barrier(7, timeout=JOIN_TIMEOUT)
    results: list[list[Signed]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            start.wait()
            i = 0
            while not stop.is_set():
                generation = completed[0]
                path = f"/trade-api/v2/portfolio/orders/{n}-{i}"
                headers = signer.headers("GET", path)
                results[n].append(
                    Signed(
                        n,
                        generation,
                        headers[HEADER_KEY],
                        headers[HEADER_TIMESTAMP],
                        headers[HEADER_SIGNATURE],
                        path,
                    )
                )
                i += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    start.wait()
    for i in range(1, len(keys)):
        # Let signatures pile up under the current key, then swap.
        goal = sum(len(r) for r in results) + 30
        deadline = threading.Event()
        for _ in range(2000):
            if sum(len(r) for r in results) >= goal or errors:
                break
            deadline.wait(0.005)
        signer.rotate(key_ids[i], keys[i])
        completed[0] = i
    stop.set()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        assert not thread.is_alive(), "a signing thread did not finish"
    assert errors == []

    public = {key_ids[i]: keys[i].public_key() for i in range(len(keys))}
    signed = [s for r in results for s in r]
    assert len(signed) > 200
    for s in signed:
        message = presign_message(s.timestamp, "GET", s.path)
        assert verify_signature(public[s.key_id], message, s.signature), s
        # Started after rotation N returned -> signed with key N or later.
        assert key_ids.index(s.key_id) >= s.generation_before, s
    used = {s.key_id for s in signed}
    assert len(used) >= 4, used  # rotations really happened while threads were signing
    assert signer.rotations == len(keys) - 1


@pytest.mark.timeout(120)
async def test_requests_during_rotation_are_accepted_after_revocation(
    sandbox: RunningSandbox,
) -> None:
    signer = KalshiSigner(sandbox.key_id, sandbox.private_key)
    path = "/trade-api/v2/portfolio/balance"
    new_key = ed25519.Ed25519PrivateKey.generate()
    new_key_id = sandbox.keys.register(new_key.public_key())
    rotated = asyncio.Event()
    enough = asyncio.Event()
    outcomes: list[tuple[bool, str, int]] = []  # (signed after rotation, key id, status)

    async with httpx.AsyncClient(base_url=sandbox.url, timeout=60) as client:

        async def requester() -> None:
            for _ in range(25):
                after = rotated.is_set()
                headers = signer.headers("GET", path)
                response = await client.get(path, headers=headers)
                outcomes.append((after, headers[HEADER_KEY], response.status_code))
                if len(outcomes) >= 40:
                    enough.set()

        async def rotator() -> None:
            await enough.wait()
            signer.rotate(new_key_id, new_key)
            rotated.set()
            sandbox.keys.revoke(sandbox.key_id)  # old key dead at the exchange from now on

        await asyncio.wait_for(
            asyncio.gather(rotator(), *(requester() for _ in range(8))), timeout=90
        )

    after = [o for o in outcomes if o[0]]
    before = [o for o in outcomes if not o[0]]
    assert len(after) > 20
    assert len(before) >= 40
    assert {key for _, key, _ in after} == {new_key_id}
    assert {status for _, _, status in after} == {200}
    # Before the rotation only the old key was used; it may be refused only once revoked.
    assert {key for _, key, _ in before} <= {sandbox.key_id, new_key_id}
    assert {status for _, _, status in before} <= {200, 401}
