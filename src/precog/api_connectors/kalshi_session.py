"""An open Kalshi client for the configured target, for every entry point (fetch, run).

`kalshi_session(environ)` applies the environment safety rules, resolves the target
(`KALSHI_MODE`, `KALSHI_API_BASE_URL`) and yields a `KalshiSession`: the open client and,
in sandbox mode without a URL, the sandbox exchange it started in this process (on loopback,
with a generated key), which is stopped when the session ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from precog.api_connectors.kalshi_auth import KalshiSigner
from precog.api_connectors.kalshi_client import KalshiClient
from precog.config.environment import KalshiMode
from precog.sandbox.local import LocalSandbox


@dataclass(frozen=True)
class KalshiSession:
    client: KalshiClient
    mode: KalshiMode
    signer: KalshiSigner
    local: LocalSandbox | None  # the in-process sandbox, when one was started


@asynccontextmanager
async def kalshi_session(
    environ: Mapping[str, str],
    *,
    sandbox_markets: int = 50,
    sandbox_tick: float | None = None,
) -> AsyncIterator[KalshiSession]:
    """An open client for the configured target (starting the local sandbox if needed)."""
    from precog.api_connectors.kalshi_client import kalshi_base_url
    from precog.api_connectors.rate_limiter import Tier
    from precog.config.config_loader import ConfigLoader
    from precog.config.environment import (
        check_kalshi_safety,
        resolve_environment,
        resolve_kalshi_mode,
    )

    settings = ConfigLoader().settings.data_sources.kalshi
    env = resolve_environment(environ)
    mode = resolve_kalshi_mode(environ, settings.mode)
    check_kalshi_safety(env, mode, environ)
    base_url = kalshi_base_url(mode, environ)
    local = None
    if base_url is None:  # sandbox mode, no URL: run the exchange in this process
        from precog.sandbox.local import start_local_sandbox

        local = await start_local_sandbox(
            environ, markets=sandbox_markets, tick_interval=sandbox_tick
        )
        base_url, signer = local.base_url, local.signer
    else:
        signer = KalshiSigner.from_environment(environ)
    try:
        async with KalshiClient(
            base_url, signer=signer, tier=Tier(settings.rate_limit_tier)
        ) as client:
            yield KalshiSession(client, mode, signer, local)
    finally:
        if local is not None:
            await local.stop()


__all__ = ["KalshiSession", "kalshi_session"]
