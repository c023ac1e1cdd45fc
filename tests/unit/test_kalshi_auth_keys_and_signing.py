"""kalshi_auth units: key loading (PKCS#1, PKCS#8, Ed25519 and every failure as one line),
the pre-sign string, the three headers, credentials from the environment, rotation."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from precog.api_connectors.kalshi_auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    AuthConfigError,
    KalshiCredentials,
    KalshiSigner,
    MissingCredentialsError,
    load_private_key,
    presign_message,
    public_key_from_pem,
    public_key_pem,
    sign_message,
    signing_path,
    verify_signature,
)
from precog.errors import ConfigError
from precog.utils.clock import FakeClock
from tests.plugins.sandbox import write_private_key

pytestmark = pytest.mark.module("kalshi_auth")

WALL = dt.datetime(2026, 11, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
WALL_MS = 1793534400123  # exact: float timestamps would give ...122


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _pem(key: object, fmt: serialization.PrivateFormat, enc: object = None) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, fmt, enc or serialization.NoEncryption()
    )


# ---------------------------------------------------------------- loading
def test_loads_pkcs1_rsa_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL))
    path.chmod(0o600)
    assert path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = load_private_key(path)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == rsa_key.private_numbers()


def test_loads_pkcs8_rsa_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_private_key(rsa_key, tmp_path / "k.pem", pkcs8=True)
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    key = load_private_key(path)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == rsa_key.private_numbers()


def test_loads_ed25519_key(tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey) -> None:
    path = write_private_key(ed_key, tmp_path / "ed.pem")
    key = load_private_key(path)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == ed_key.public_key().public_bytes(*raw)


def test_loads_encrypted_key_with_passphrase(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    enc = serialization.BestAvailableEncryption(b"s3cret")
    path = tmp_path / "enc.pem"
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.PKCS8, enc))
    path.chmod(0o600)
    assert isinstance(load_private_key(path, b"s3cret"), rsa.RSAPrivateKey)


def _one_line_error(path: Path, passphrase: bytes | None = None) -> str:
    with pytest.raises(AuthConfigError) as info:
        load_private_key(path, passphrase)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 2
    return message


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    message = _one_line_error(tmp_path / "nope.key")
    assert "does not exist" in message
    assert "nope.key" in message


def test_directory_is_one_line_error(tmp_path: Path) -> None:
    assert "is a directory" in _one_line_error(tmp_path)


def test_garbage_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.key"
    path.write_bytes(b"this is not a key\n\x00\xff")
    assert "not a PEM RSA or Ed25519 private key" in _one_line_error(path)


def test_public_key_in_place_of_private_is_one_line_error(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "pub.pem"
    path.write_text(public_key_pem(rsa_key))
    assert "not a PEM RSA or Ed25519 private key" in _one_line_error(path)


def test_encrypted_key_without_passphrase_is_one_line_error(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "enc.pem"
    enc = serialization.BestAvailableEncryption(b"s3cret")
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.PKCS8, enc))
    assert "is encrypted" in _one_line_error(path)


def test_wrong_passphrase_is_one_line_error(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "enc.pem"
    enc = serialization.BestAvailableEncryption(b"s3cret")
    path.write_bytes(_pem(rsa_key, serialization.PrivateFormat.PKCS8, enc))
    assert "wrong passphrase" in _one_line_error(path, b"other")


def test_passphrase_for_a_plain_key_is_one_line_error(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = write_private_key(rsa_key, tmp_path / "plain.pem")
    assert "is not encrypted but a passphrase was given" in _one_line_error(path, b"x")


def test_unsupported_key_type_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8)
    )
    assert "RSA or Ed25519 keys only" in _one_line_error(path)


def test_short_rsa_key_is_refused(tmp_path: Path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = write_private_key(small, tmp_path / "small.pem")
    assert "RSA-1024" in _one_line_error(path)


def test_unreadable_file_is_one_line_error(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    # A FIFO with no writer would block; a path through a regular file is ENOTDIR instead.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = _one_line_error(blocker / "k.key")
    assert "cannot be read" in message


def test_world_readable_key_logs_a_warning(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_private_key(rsa_key, tmp_path / "open.key", mode=0o644)
    with caplog.at_level(logging.WARNING, logger="precog.api_connectors.kalshi_auth"):
        load_private_key(path)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    if os.name != "posix":  # Windows guards files with ACLs; mode bits say nothing there
        assert warnings == []
        return
    assert len(warnings) == 1
    assert "chmod 600" in warnings[0].getMessage()
    assert "0o644" in warnings[0].getMessage()


def test_private_key_file_logs_no_warning(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_private_key(rsa_key, tmp_path / "closed.key", mode=0o600)
    with caplog.at_level(logging.WARNING, logger="precog.api_connectors.kalshi_auth"):
        load_private_key(path)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# ---------------------------------------------------------------- message + signing
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/trade-api/v2/portfolio/balance", "/trade-api/v2/portfolio/balance"),
        ("/trade-api/v2/portfolio/orders?limit=5", "/trade-api/v2/portfolio/orders"),
        ("/trade-api/v2/markets?cursor=abc&limit=1000#frag", "/trade-api/v2/markets"),
        ("https://api.elections.kalshi.com/trade-api/v2/markets?x=1", "/trade-api/v2/markets"),
        ("/trade-api/ws/v2", "/trade-api/ws/v2"),
    ],
)
def test_signing_path_strips_query_and_host(target: str, expected: str) -> None:
    assert signing_path(target) == expected


def test_signing_path_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        signing_path("portfolio/balance")


def test_presign_message_is_timestamp_method_path() -> None:
    msg = presign_message(1703123456789, "get", "/trade-api/v2/portfolio/balance?limit=1")
    assert msg == b"1703123456789GET/trade-api/v2/portfolio/balance"


def test_rsa_signature_is_pss_sha256_salt32(rsa_key: rsa.RSAPrivateKey) -> None:
    message = b"1703123456789GET/trade-api/v2/portfolio/balance"
    sig = base64.b64decode(sign_message(rsa_key, message), validate=True)
    assert len(sig) == 256
    # Independent check with the exact parameters of the reference.
    pss32 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    rsa_key.public_key().verify(sig, message, pss32, hashes.SHA256())
    # PSS is randomised: two signatures of one message differ but both verify.
    assert sign_message(rsa_key, message) != sign_message(rsa_key, message)


def test_verify_rejects_a_different_salt_length(rsa_key: rsa.RSAPrivateKey) -> None:
    message = b"1GET/trade-api/v2/x"
    pss_max = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
    sig = base64.b64encode(rsa_key.sign(message, pss_max, hashes.SHA256())).decode()
    assert not verify_signature(rsa_key.public_key(), message, sig)


def test_ed25519_signature_is_plain_ed25519(ed_key: ed25519.Ed25519PrivateKey) -> None:
    message = b"1703123456789GET/trade-api/ws/v2"
    sig = sign_message(ed_key, message)
    ed_key.public_key().verify(base64.b64decode(sig), message)
    assert sign_message(ed_key, message) == sig  # Ed25519 is deterministic


def test_verify_rejects_non_base64_and_tampering(rsa_key: rsa.RSAPrivateKey) -> None:
    message = b"1GET/trade-api/v2/x"
    sig = sign_message(rsa_key, message)
    public = rsa_key.public_key()
    assert verify_signature(public, message, sig)
    assert not verify_signature(public, message, "not base64!!")
    # Strict base64: junk inside an otherwise valid signature is not silently skipped.
    assert not verify_signature(public, message, sig[:8] + "*" + sig[8:])
    assert not verify_signature(public, message, sig[:8] + "\n" + sig[8:])
    assert not verify_signature(public, b"1GET/trade-api/v2/y", sig)
    assert not verify_signature(public, message, base64.b64encode(b"\x00" * 256).decode())


def test_headers_use_the_clock_and_sign_the_full_path(rsa_key: rsa.RSAPrivateKey) -> None:
    clock = FakeClock(wall=WALL)
    signer = KalshiSigner("key-1", rsa_key, clock=clock)
    headers = signer.headers("get", "/trade-api/v2/portfolio/orders?limit=5")
    assert set(headers) == {HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP}
    assert headers[HEADER_KEY] == "key-1"
    assert headers[HEADER_TIMESTAMP] == str(WALL_MS)
    expected = f"{WALL_MS}GET/trade-api/v2/portfolio/orders".encode()
    assert verify_signature(rsa_key.public_key(), expected, headers[HEADER_SIGNATURE])
    clock.advance(2.5)
    assert signer.headers("GET", "/x")[HEADER_TIMESTAMP] == str(WALL_MS + 2500)


def test_websocket_headers_sign_the_ws_path(ed_key: ed25519.Ed25519PrivateKey) -> None:
    signer = KalshiSigner("ws-key", ed_key, clock=FakeClock(wall=WALL))
    headers = signer.websocket_headers()
    message = f"{WALL_MS}GET/trade-api/ws/v2".encode()
    assert verify_signature(ed_key.public_key(), message, headers[HEADER_SIGNATURE])


def test_public_key_pem_round_trips(rsa_key: rsa.RSAPrivateKey) -> None:
    public = public_key_from_pem(public_key_pem(rsa_key))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == rsa_key.public_key().public_numbers()
    with pytest.raises(AuthConfigError):
        public_key_from_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


# ---------------------------------------------------------------- rotation
def test_rotation_swaps_key_id_and_key_together(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    signer = KalshiSigner("old", rsa_key, clock=FakeClock(wall=WALL))
    signer.rotate_from_file("new", write_private_key(ed_key, tmp_path / "new.pem"))
    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance")
    assert headers[HEADER_KEY] == "new"
    message = f"{WALL_MS}GET/trade-api/v2/portfolio/balance".encode()
    assert verify_signature(ed_key.public_key(), message, headers[HEADER_SIGNATURE])
    assert not verify_signature(rsa_key.public_key(), message, headers[HEADER_SIGNATURE])
    assert signer.rotations == 1


def test_failed_rotation_keeps_the_old_key(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    signer = KalshiSigner("old", rsa_key)
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage")
    with pytest.raises(AuthConfigError):
        signer.rotate_from_file("new", bad)
    assert signer.key_id == "old"
    assert signer.active.private_key is rsa_key


@pytest.mark.parametrize("key_id", ["", "   ", "a\nb"])
def test_bad_key_id_is_refused(rsa_key: rsa.RSAPrivateKey, key_id: str) -> None:
    with pytest.raises(AuthConfigError):
        KalshiSigner(key_id, rsa_key)


def test_repr_never_shows_key_material(rsa_key: rsa.RSAPrivateKey) -> None:
    assert repr(KalshiSigner("kid", rsa_key)) == "KalshiSigner(key_id='kid', algorithm='rsa-pss')"


# ---------------------------------------------------------------- credentials
def test_credentials_follow_precog_env(tmp_path: Path) -> None:
    environ = {
        "PRECOG_ENV": "staging",
        "STAGING_KALSHI_API_KEY": " kid ",
        "STAGING_KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "k.pem"),
        "TEST_KALSHI_API_KEY": "wrong-env",
    }
    creds = KalshiCredentials.from_environment(environ)
    assert creds.key_id == "kid"
    assert creds.private_key_path == tmp_path / "k.pem"
    assert creds.environment.value == "staging"


@pytest.mark.parametrize(
    ("environ", "unset"),
    [
        ({"PRECOG_ENV": "test"}, "TEST_KALSHI_API_KEY, TEST_KALSHI_PRIVATE_KEY_PATH"),
        ({"PRECOG_ENV": "test", "TEST_KALSHI_API_KEY": "k"}, "TEST_KALSHI_PRIVATE_KEY_PATH"),
        ({"DEV_KALSHI_PRIVATE_KEY_PATH": "/k"}, "DEV_KALSHI_API_KEY"),
    ],
)
def test_missing_credentials_name_exactly_the_variables(
    environ: dict[str, str], unset: str
) -> None:
    with pytest.raises(MissingCredentialsError) as info:
        KalshiCredentials.from_environment(environ)
    message = str(info.value)
    prefix = environ.get("PRECOG_ENV", "dev").upper()
    assert f"set {prefix}_KALSHI_API_KEY" in message
    assert f"and {prefix}_KALSHI_PRIVATE_KEY_PATH" in message
    assert message.endswith(f"unset: {unset}")
    assert info.value.exit_code == 2
    assert "\n" not in message


def test_signer_from_environment(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_private_key(rsa_key, tmp_path / "k.pem")
    environ = {
        "PRECOG_ENV": "test",
        "TEST_KALSHI_API_KEY": "kid",
        "TEST_KALSHI_PRIVATE_KEY_PATH": str(path),
    }
    signer = KalshiSigner.from_environment(environ, clock=FakeClock(wall=WALL))
    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance")
    assert headers[HEADER_KEY] == "kid"
    message = f"{WALL_MS}GET/trade-api/v2/portfolio/balance".encode()
    assert verify_signature(rsa_key.public_key(), message, headers[HEADER_SIGNATURE])
