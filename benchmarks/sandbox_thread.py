"""A sandbox exchange for benchmarks: its own event loop in a thread, and a signer it accepts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running_sandbox(markets: int, seed: int) -> Iterator[tuple[Any, Any]]:
    """(server, signer): a started `SandboxServer` with `markets` markets and an Ed25519 key."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from precog.api_connectors.kalshi_auth import KalshiSigner, generate_key_id
    from precog.sandbox.server import SandboxServer, SandboxThread

    server = SandboxServer(seed=seed, markets=markets)
    thread = SandboxThread(server)
    thread.start()
    try:
        signer = KalshiSigner(generate_key_id(), ed25519.Ed25519PrivateKey.generate())
        server.keys.register(signer.active.private_key.public_key(), signer.key_id)
        yield server, signer
    finally:
        thread.stop()
