"""kalshi_auth with the in-process sandbox (`KALSHI_MODE=sandbox`, no base URL): configured
credentials are loaded and accepted; without credentials an ephemeral key is used; a broken
key file is an AuthConfigError before anything starts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from precog.api_connectors.kalshi_auth import AuthConfigError
from precog.sandbox.local import start_local_sandbox
from tests.plugins.sandbox import new_rsa_key, write_private_key

pytestmark = pytest.mark.module("kalshi_auth")

BALANCE = "/trade-api/v2/portfolio/balance"


async def _balance_status(base_url: str, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            base_url.removesuffix("/trade-api/v2") + BALANCE, headers=headers
        )
        return response.status_code


async def test_configured_credentials_are_registered(tmp_path: Path) -> None:
    path = write_private_key(new_rsa_key(), tmp_path / "k.key")
    environ = {
        "PRECOG_ENV": "test",
        "TEST_KALSHI_API_KEY": "my-key-id",
        "TEST_KALSHI_PRIVATE_KEY_PATH": str(path),
    }
    local = await start_local_sandbox(environ, seed=3, markets=5)
    try:
        assert local.signer.key_id == "my-key-id"
        assert await _balance_status(local.base_url, local.signer.headers("GET", BALANCE)) == 200
    finally:
        await local.stop()


async def test_ephemeral_key_without_credentials() -> None:
    local = await start_local_sandbox({"PRECOG_ENV": "test"}, markets=3)
    try:
        assert local.signer.active.algorithm == "ed25519"
        assert await _balance_status(local.base_url, local.signer.headers("GET", BALANCE)) == 200
    finally:
        await local.stop()


async def test_broken_key_file_fails_before_starting(tmp_path: Path) -> None:
    environ = {
        "PRECOG_ENV": "test",
        "TEST_KALSHI_API_KEY": "k",
        "TEST_KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "missing.key"),
    }
    with pytest.raises(AuthConfigError, match="does not exist"):
        await start_local_sandbox(environ)
