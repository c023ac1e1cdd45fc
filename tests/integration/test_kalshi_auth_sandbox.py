"""kalshi_auth against the sandbox exchange over real loopback HTTP: signed requests are
accepted, and every kind of wrong signature is refused with its own 401 reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from precog.api_connectors.kalshi_auth import (
    HEADER_KEY,
    KalshiSigner,
    presign_message,
    public_key_pem,
    sign_message,
)
from precog.utils.clock import FakeClock
from tests.plugins.sandbox import (
    RunningSandbox,
    new_ed25519_key,
    new_rsa_key,
    write_private_key,
)

pytestmark = pytest.mark.module("kalshi_auth")

BALANCE = "/trade-api/v2/portfolio/balance"
SIGNATURE = "rpc error: code = Unauthenticated desc = INCORRECT_API_KEY_SIGNATURE"
UNKNOWN_KEY = "rpc error: code = Unauthenticated desc = NOT_FOUND"


def _skewed(seconds: float) -> FakeClock:
    return FakeClock(wall=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))


async def _get(
    sandbox: RunningSandbox,
    path: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        return await client.get(path, headers=headers, params=params)


async def test_signed_request_is_accepted(sandbox: RunningSandbox) -> None:
    response = await _get(sandbox, BALANCE, sandbox.signer.headers("GET", BALANCE))
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["balance"], int)
    assert sandbox.server.authenticator.accepted == 1


async def test_signer_from_the_fixture_env_is_accepted(sandbox: RunningSandbox) -> None:
    signer = KalshiSigner.from_environment({"PRECOG_ENV": "test", **sandbox.env})
    path = "/trade-api/v2/portfolio/positions"
    response = await _get(sandbox, path, signer.headers("GET", path), {"limit": "5"})
    assert response.status_code == 200, response.text
    assert "market_positions" in response.json()


async def test_query_string_is_not_signed(sandbox: RunningSandbox) -> None:
    path = "/trade-api/v2/portfolio/fills"
    params = {"limit": "3", "ticker": "X"}
    ok = await _get(
        sandbox, path, sandbox.signer.headers("GET", path + "?limit=3&ticker=X"), params
    )
    assert ok.status_code == 200, ok.text
    # Signing the query too is the most common client bug; Kalshi refuses it.
    headers = sandbox.signer.headers("GET", path)
    ts = headers["KALSHI-ACCESS-TIMESTAMP"]
    wrong = sign_message(sandbox.private_key, f"{ts}GET{path}?limit=3&ticker=X".encode())
    headers["KALSHI-ACCESS-SIGNATURE"] = wrong
    assert presign_message(ts, "GET", path) != f"{ts}GET{path}?limit=3&ticker=X".encode()
    refused = await _get(sandbox, path, headers, params)
    assert refused.status_code == 401
    assert refused.json()["error"]["details"] == SIGNATURE


async def test_short_path_signature_is_refused(sandbox: RunningSandbox) -> None:
    # Signing "/portfolio/balance" without the /trade-api/v2 prefix gives 401 on Kalshi.
    headers = sandbox.signer.headers("GET", "/portfolio/balance")
    response = await _get(sandbox, BALANCE, headers)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_error",
        "message": "authentication_error",
        "details": SIGNATURE,
    }


async def test_wrong_method_signature_is_refused(sandbox: RunningSandbox) -> None:
    response = await _get(sandbox, BALANCE, sandbox.signer.headers("POST", BALANCE))
    assert response.status_code == 401
    assert response.json()["error"]["details"] == SIGNATURE


async def test_wrong_key_for_the_key_id_is_refused(sandbox: RunningSandbox) -> None:
    impostor = KalshiSigner(sandbox.key_id, new_rsa_key())
    response = await _get(sandbox, BALANCE, impostor.headers("GET", BALANCE))
    assert response.status_code == 401
    assert response.json()["error"]["details"] == SIGNATURE
    assert sandbox.server.authenticator.accepted == 0


async def test_unknown_key_id_is_refused(sandbox: RunningSandbox) -> None:
    stranger = KalshiSigner("00000000-0000-4000-8000-000000000000", sandbox.private_key)
    response = await _get(sandbox, BALANCE, stranger.headers("GET", BALANCE))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"
    assert response.json()["error"]["details"] == UNKNOWN_KEY


@pytest.mark.parametrize("skew", [-45.0, 45.0, -3600.0])
async def test_skewed_timestamp_is_refused(sandbox: RunningSandbox, skew: float) -> None:
    signer = KalshiSigner(sandbox.key_id, sandbox.private_key, clock=_skewed(skew))
    response = await _get(sandbox, BALANCE, signer.headers("GET", BALANCE))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "header_timestamp_expired"


@pytest.mark.parametrize("skew", [-20.0, 20.0])
async def test_small_skew_is_accepted(sandbox: RunningSandbox, skew: float) -> None:
    signer = KalshiSigner(sandbox.key_id, sandbox.private_key, clock=_skewed(skew))
    response = await _get(sandbox, BALANCE, signer.headers("GET", BALANCE))
    assert response.status_code == 200, response.text


async def test_missing_headers_are_refused(sandbox: RunningSandbox) -> None:
    headers = sandbox.signer.headers("GET", BALANCE)
    del headers[HEADER_KEY]
    response = await _get(sandbox, BALANCE, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"
    assert "MISSING_AUTH_HEADERS" in response.json()["error"]["details"]
    assert (await _get(sandbox, BALANCE, {})).status_code == 401


async def test_public_endpoints_need_no_signature(sandbox: RunningSandbox) -> None:
    response = await _get(sandbox, "/trade-api/v2/markets", {}, {"limit": "2"})
    assert response.status_code == 200
    assert sandbox.server.authenticator.accepted == 0


async def test_ed25519_key_is_accepted(sandbox: RunningSandbox, tmp_path: Path) -> None:
    key = new_ed25519_key()
    key_id = sandbox.keys.register(public_key_pem(key))
    signer = KalshiSigner.from_file(key_id, write_private_key(key, tmp_path / "ed.pem"))
    response = await _get(sandbox, BALANCE, signer.headers("GET", BALANCE))
    assert response.status_code == 200, response.text


async def test_old_api_key_rejected_after_rotation(sandbox: RunningSandbox, tmp_path: Path) -> None:
    signer = KalshiSigner.from_file(sandbox.key_id, sandbox.private_key_path)
    old_signer = KalshiSigner.from_file(sandbox.key_id, sandbox.private_key_path)
    assert (await _get(sandbox, BALANCE, signer.headers("GET", BALANCE))).status_code == 200

    # Rotate over the admin endpoint, as an operator would: new key in, old key out.
    new_key = new_rsa_key()
    new_path = write_private_key(new_key, tmp_path / "new.key")
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as admin:
        reply = await admin.post(
            "/_admin/keys/rotate",
            json={"old_key_id": sandbox.key_id, "public_key": public_key_pem(new_key)},
        )
    assert reply.status_code == 201, reply.text
    new_key_id = reply.json()["key_id"]
    signer.rotate_from_file(new_key_id, new_path)

    fresh = await _get(sandbox, BALANCE, signer.headers("GET", BALANCE))
    assert fresh.status_code == 200, fresh.text
    stale = await _get(sandbox, BALANCE, old_signer.headers("GET", BALANCE))
    assert stale.status_code == 401
    assert stale.json()["error"]["details"] == UNKNOWN_KEY
    assert signer.key_id == new_key_id != sandbox.key_id


async def test_signed_orderbook_is_verified_when_headers_are_sent(sandbox: RunningSandbox) -> None:
    ticker = sandbox.exchange.market_tickers(["active"])[0]
    path = f"/trade-api/v2/markets/{ticker}/orderbook"
    assert (await _get(sandbox, path, {})).status_code == 200
    assert (await _get(sandbox, path, sandbox.signer.headers("GET", path))).status_code == 200
    impostor = KalshiSigner(sandbox.key_id, new_rsa_key())
    assert (await _get(sandbox, path, impostor.headers("GET", path))).status_code == 401
