"""Sandbox exchange fixtures: a running Kalshi-compatible exchange on loopback plus credentials.

`sandbox` yields a `RunningSandbox` (seed 42, 50 markets) served from a background thread,
so it works for async tests and for sync tests that block on a `precog` subprocess:

    sandbox.base_url           http://127.0.0.1:<port>/trade-api/v2
    sandbox.key_id             registered RSA key id (UUID)
    sandbox.private_key_path   PKCS#1 PEM written with mode 0600
    sandbox.signer             a KalshiSigner for that key
    sandbox.env                {KALSHI_API_BASE_URL, TEST_KALSHI_API_KEY,
                                TEST_KALSHI_PRIVATE_KEY_PATH, KALSHI_MODE=sandbox}
    sandbox.exchange           the SandboxExchange (step(), advance(), add_markets(n), ...)
    sandbox.faults             the FaultSwitches (configure(reset_next=1, ...), reset())
    sandbox.keys               the KeyRegistry (register / revoke / rotate)

`sandbox_factory(seed=..., markets=..., clock=...)` starts more (each stopped at teardown).
`rsa_key_file(tmp_path)` / `write_private_key(...)` create further key files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from precog.api_connectors.kalshi_auth import KalshiSigner, PrivateKey
from precog.sandbox.auth import KeyRegistry
from precog.sandbox.exchange import SandboxExchange
from precog.sandbox.faults import FaultSwitches
from precog.sandbox.server import SandboxServer, SandboxThread
from precog.utils.clock import Clock

DEFAULT_SEED = 42
DEFAULT_MARKETS = 50


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def write_private_key(
    key: PrivateKey, path: Path, *, pkcs8: bool = False, mode: int = 0o600
) -> Path:
    """PEM-encode `key` (PKCS#1 for RSA unless pkcs8; PKCS#8 for Ed25519) with `mode`."""
    fmt = (
        serialization.PrivateFormat.PKCS8
        if pkcs8 or isinstance(key, ed25519.Ed25519PrivateKey)
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    data = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(mode)
    return path


@dataclass
class RunningSandbox:
    server: SandboxServer
    key_id: str
    private_key: rsa.RSAPrivateKey
    private_key_path: Path
    signer: KalshiSigner

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def exchange(self) -> SandboxExchange:
        return self.server.exchange

    @property
    def faults(self) -> FaultSwitches:
        return self.server.faults

    @property
    def keys(self) -> KeyRegistry:
        return self.server.keys

    @property
    def env(self) -> dict[str, str]:
        return {
            "KALSHI_API_BASE_URL": self.base_url,
            "TEST_KALSHI_API_KEY": self.key_id,
            "TEST_KALSHI_PRIVATE_KEY_PATH": str(self.private_key_path),
            "KALSHI_MODE": "sandbox",
        }


class SandboxFactory(Protocol):
    def __call__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        markets: int = DEFAULT_MARKETS,
        clock: Clock | None = None,
        max_skew: float = 30.0,
    ) -> RunningSandbox: ...


@pytest.fixture
def sandbox_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFactory]:
    threads: list[SandboxThread] = []

    def make(
        *,
        seed: int = DEFAULT_SEED,
        markets: int = DEFAULT_MARKETS,
        clock: Clock | None = None,
        max_skew: float = 30.0,
    ) -> RunningSandbox:
        server = SandboxServer(seed=seed, markets=markets, clock=clock, max_skew=max_skew)
        thread = SandboxThread(server)
        thread.start()
        threads.append(thread)
        key = new_rsa_key()
        key_id = server.keys.register(key.public_key())
        path = write_private_key(key, tmp_path_factory.mktemp("kalshi-key") / "kalshi.key")
        return RunningSandbox(server, key_id, key, path, KalshiSigner(key_id, key))

    yield make
    for thread in threads:
        thread.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> RunningSandbox:
    return sandbox_factory()


__all__ = [
    "RunningSandbox",
    "SandboxFactory",
    "new_ed25519_key",
    "new_rsa_key",
    "sandbox",
    "sandbox_factory",
    "write_private_key",
]
