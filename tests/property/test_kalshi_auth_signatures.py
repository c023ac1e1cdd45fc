"""kalshi_auth properties: a signature verifies for exactly the (timestamp, method, path) it
was made for and for no other; the query string never affects what is signed; the sandbox's
request check accepts exactly the signer's headers."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from precog.api_connectors.kalshi_auth import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    presign_message,
    sign_message,
    signing_path,
    verify_signature,
)
from precog.sandbox.auth import KeyRegistry, RequestAuthenticator
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("kalshi_auth")

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "get", "post", "delete"])
_PATH_CHARS = st.characters(
    codec="ascii", categories=("L", "N"), include_characters="-_.~%/:@!$&'()*+,;="
)
PATHS = st.builds(
    lambda segs: "/trade-api/v2/" + "/".join(segs),
    st.lists(st.text(_PATH_CHARS, min_size=1, max_size=20), min_size=0, max_size=5),
)
QUERIES = st.text(st.characters(codec="ascii", exclude_characters="#\r\n"), max_size=60)
TIMESTAMPS = st.integers(min_value=0, max_value=10**13)
KEYS = st.sampled_from([RSA_KEY, ED_KEY])


@given(key=KEYS, ts=TIMESTAMPS, method=METHODS, path=PATHS)
@settings(max_examples=80)
def test_signature_verifies_for_its_own_message(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, ts: int, method: str, path: str
) -> None:
    message = presign_message(ts, method, path)
    assert message == f"{ts}{method.upper()}{path}".encode()
    assert verify_signature(key.public_key(), message, sign_message(key, message))


@given(
    key=KEYS,
    ts=TIMESTAMPS,
    method=METHODS,
    path=PATHS,
    other_ts=TIMESTAMPS,
    other_method=METHODS,
    other_path=PATHS,
)
@settings(max_examples=80)
def test_signature_fails_for_any_other_message(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    ts: int,
    method: str,
    path: str,
    other_ts: int,
    other_method: str,
    other_path: str,
) -> None:
    signed = presign_message(ts, method, path)
    other = presign_message(other_ts, other_method, other_path)
    assume(signed != other)
    signature = sign_message(key, signed)
    assert not verify_signature(key.public_key(), other, signature)


@given(ts=TIMESTAMPS, method=METHODS, path=PATHS, query=QUERIES)
def test_query_string_never_affects_the_message(
    ts: int, method: str, path: str, query: str
) -> None:
    assert signing_path(f"{path}?{query}") == path
    assert presign_message(ts, method, f"{path}?{query}") == presign_message(ts, method, path)
    url = f"https://external-api.kalshi.com{path}?{query}"
    assert presign_message(ts, method, url) == presign_message(ts, method, path)


@given(ts=TIMESTAMPS, method=METHODS, path=PATHS, query=QUERIES)
@settings(max_examples=40)
def test_ed25519_headers_identical_with_and_without_query(
    ts: int, method: str, path: str, query: str
) -> None:
    # Ed25519 is deterministic, so the whole header set must be byte-identical.
    signer = KalshiSigner("kid", ED_KEY)
    with_query = signer.headers(method, f"{path}?{query}", timestamp_ms=ts)
    assert with_query == signer.headers(method, path, timestamp_ms=ts)


WALL = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
WALL_MS = int(WALL.timestamp()) * 1000


@given(
    key=KEYS,
    offset_ms=st.integers(min_value=-60_000, max_value=60_000),
    method=METHODS,
    path=PATHS,
    query=QUERIES,
    verify_method=METHODS,
    verify_path=PATHS,
)
@settings(max_examples=60)
def test_sandbox_check_accepts_exactly_the_signed_request(
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
    offset_ms: int,
    method: str,
    path: str,
    query: str,
    verify_method: str,
    verify_path: str,
) -> None:
    registry = KeyRegistry()
    key_id = registry.register(key.public_key())
    check = RequestAuthenticator(registry, clock=FakeClock(wall=WALL), max_skew=30.0)
    headers = KalshiSigner(key_id, key).headers(
        method, f"{path}?{query}", timestamp_ms=WALL_MS + offset_ms
    )
    same_request = verify_method.upper() == method.upper() and verify_path == path
    reason = check.check(verify_method.upper(), verify_path, headers)
    in_window = abs(offset_ms) <= 30_000
    if not in_window:
        assert reason is not None
        assert reason.value == "TIMESTAMP_EXPIRED"
    elif same_request:
        assert reason is None
    else:
        assert reason is not None
        assert reason.value == "INCORRECT_API_KEY_SIGNATURE"
    # Tampering with the timestamp header always breaks the signature (inside the window).
    if in_window and same_request:
        tampered = dict(headers)
        tampered[HEADER_TIMESTAMP] = str(int(headers[HEADER_TIMESTAMP]) + 1)
        assert check.check(method.upper(), path, tampered) is not None
        corrupted = dict(headers)
        corrupted[HEADER_SIGNATURE] = headers[HEADER_SIGNATURE][::-1]
        assert check.check(method.upper(), path, corrupted) is not None
