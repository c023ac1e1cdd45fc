"""The in-process sandbox for `KALSHI_MODE=sandbox` without `KALSHI_API_BASE_URL`.

`start_local_sandbox(environ)` starts a sandbox exchange on a free loopback port in the
running event loop and returns it with a signer the exchange accepts:

- if the environment's credentials are set (``{ENV}_KALSHI_API_KEY`` and
  ``{ENV}_KALSHI_PRIVATE_KEY_PATH``), that key file is loaded (errors are AuthConfigError)
  and its public half registered under that key id, so the configured credentials work;
- otherwise an ephemeral Ed25519 key is generated in memory (nothing written to disk).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519

from precog.api_connectors.kalshi_auth import (
    KalshiCredentials,
    KalshiSigner,
    MissingCredentialsError,
    generate_key_id,
)
from precog.sandbox.server import SandboxServer
from precog.utils.clock import Clock


@dataclass
class LocalSandbox:
    """A started in-process sandbox and a signer registered with it."""

    server: SandboxServer
    signer: KalshiSigner

    @property
    def base_url(self) -> str:
        return self.server.base_url

    async def stop(self) -> None:
        await self.server.stop()


async def start_local_sandbox(
    environ: Mapping[str, str],
    *,
    seed: int = 0,
    markets: int = 50,
    clock: Clock | None = None,
    tick_interval: float | None = None,
) -> LocalSandbox:
    """Start a sandbox in this event loop; stop it with `await local.stop()`.

    `tick_interval` seconds between simulation steps (None: the market only moves when
    told to, as in tests; `precog run` lets it move on its own)."""
    try:
        credentials = KalshiCredentials.from_environment(environ)
    except MissingCredentialsError:
        signer = KalshiSigner(generate_key_id(), ed25519.Ed25519PrivateKey.generate(), clock=clock)
    else:
        signer = KalshiSigner.from_file(
            credentials.key_id, credentials.private_key_path, clock=clock
        )
    server = SandboxServer(seed=seed, markets=markets, clock=clock, tick_interval=tick_interval)
    server.keys.register(signer.active.private_key.public_key(), signer.key_id)
    await server.start()
    return LocalSandbox(server, signer)


__all__ = ["LocalSandbox", "start_local_sandbox"]
