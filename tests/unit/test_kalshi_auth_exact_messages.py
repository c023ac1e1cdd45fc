"""kalshi_auth units pinned down exactly: every error message word for word (they are the
user's only guide), the key path in each, passphrases passed through every entry point,
public-key inputs, signing paths with odd characters, rotation counting and its log line.
Written to kill the mutants `make mutation MODULE=kalshi_auth` found surviving (names in
the commit that added this file)."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from precog.api_connectors.kalshi_auth import (
    HEADER_TIMESTAMP,
    AuthConfigError,
    KalshiSigner,
    generate_key_id,
    load_private_key,
    parse_private_key,
    public_key_from_pem,
    public_key_pem,
    signing_path,
)
from tests.plugins.sandbox import write_private_key

pytestmark = pytest.mark.module("kalshi_auth")

PASSPHRASE = b"s3cret"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _encrypted(path: Path, key: rsa.RSAPrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )
    path.chmod(0o600)
    return path


def _message(path: Path, passphrase: bytes | None = None) -> str:
    with pytest.raises(AuthConfigError) as info:
        load_private_key(path, passphrase)
    return str(info.value)


# ---------------------------------------------------------------- messages, word for word
def test_encrypted_key_messages(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = _encrypted(tmp_path / "enc.pem", rsa_key)
    assert _message(path) == (
        f"Kalshi private key {path} is encrypted; supply its passphrase or "
        "export it without encryption"
    )
    assert _message(path, b"wrong") == (
        f"Kalshi private key {path} could not be decrypted: wrong passphrase"
    )


def test_passphrase_for_plain_key_message(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_private_key(rsa_key, tmp_path / "plain.pem", pkcs8=True)
    assert _message(path, PASSPHRASE) == (
        f"Kalshi private key {path} is not encrypted but a passphrase was given; "
        "drop the passphrase"
    )


NOT_A_KEY = (
    "Kalshi private key {} is not a PEM RSA or Ed25519 private key; use the "
    "key file Kalshi gave you (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
)


def test_garbage_message_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.key"
    path.write_bytes(b"not a key")
    assert _message(path) == NOT_A_KEY.format(path)


@pytest.mark.parametrize(
    ("data", "passphrase"),
    [
        # Says ENCRYPTED but no passphrase was given: not a wrong passphrase.
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            None,
        ),
        # A passphrase, but nothing says the data is encrypted: not a wrong passphrase either.
        (b"not a key", PASSPHRASE),
    ],
)
def test_wrong_passphrase_needs_both_passphrase_and_encrypted_data(
    data: bytes, passphrase: bytes | None
) -> None:
    with pytest.raises(AuthConfigError) as info:
        parse_private_key(data, source="k.pem", passphrase=passphrase)
    assert str(info.value) == NOT_A_KEY.format("k.pem")


def test_unsupported_key_type_message(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    name = type(key).__name__.lstrip("_")
    assert _message(path) == (
        f"Kalshi private key {path} is a {name}; Kalshi accepts RSA or Ed25519 keys only"
    )


def test_unreadable_file_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = blocker / "k.key"
    with pytest.raises(NotADirectoryError) as reading:  # the platform's wording
        path.read_bytes()
    assert _message(path) == (
        f"Kalshi private key file {path} cannot be read ({reading.value.strerror}); "
        "fix its permissions"
    )


def test_key_id_message_and_allowed_characters(rsa_key: rsa.RSAPrivateKey) -> None:
    for bad in ("", "   ", "id\nX", "id\r"):
        with pytest.raises(AuthConfigError) as info:
            KalshiSigner(bad, rsa_key)
        assert str(info.value) == "Kalshi API key id is empty or contains line breaks"
    for good in ("XXXX-1234", "id with X"):  # letters are fine, only line breaks are not
        assert KalshiSigner(good, rsa_key).key_id == good


def test_exposed_key_warning_is_exact(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_private_key(rsa_key, tmp_path / "open.key", mode=0o640)
    with caplog.at_level(logging.WARNING, logger="precog.api_connectors.kalshi_auth"):
        load_private_key(path)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if os.name != "posix":  # no group/other bits to check there
        assert messages == []
        return
    assert messages == [
        f"Kalshi private key {path} is accessible by group/others (mode 0o640); "
        f"run: chmod 600 {path}"
    ]


# ---------------------------------------------------------------- public keys
def test_public_key_from_pem_accepts_bytes_and_text(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = public_key_pem(rsa_key)
    from_text = public_key_from_pem(pem)
    from_bytes = public_key_from_pem(pem.encode("ascii"))
    assert isinstance(from_bytes, rsa.RSAPublicKey)
    assert from_text.public_numbers() == from_bytes.public_numbers()  # type: ignore[union-attr]
    assert from_bytes.public_numbers() == rsa_key.public_key().public_numbers()


def test_public_key_pem_of_a_public_key_is_itself(rsa_key: rsa.RSAPrivateKey) -> None:
    public = rsa_key.public_key()
    assert public_key_pem(public) == public_key_pem(rsa_key)
    ed = ed25519.Ed25519PrivateKey.generate()
    assert public_key_pem(ed.public_key()) == public_key_pem(ed)


def test_public_key_errors_are_exact() -> None:
    with pytest.raises(AuthConfigError) as info:
        public_key_from_pem("no key here")
    assert str(info.value) == "public key is not a PEM RSA or Ed25519 public key"
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = ec_public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(AuthConfigError) as info:
        public_key_from_pem(pem)
    assert str(info.value) == f"public key type {type(ec_public).__name__} is not RSA or Ed25519"


# ---------------------------------------------------------------- signing paths
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a#frag#more", "/a"),  # everything from the first '#'
        ("/a b#frag", "/a b"),  # whitespace is part of the path
        ("//not-a-host/path?x=1", "//not-a-host/path"),  # no scheme: not parsed as a URL
        ("/XX#XX", "/XX"),
    ],
)
def test_signing_path_cuts_at_the_first_query_or_fragment(target: str, expected: str) -> None:
    assert signing_path(target) == expected


# ---------------------------------------------------------------- signer
def test_passphrase_reaches_the_key_through_every_entry_point(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = _encrypted(tmp_path / "enc.pem", rsa_key)
    signer = KalshiSigner.from_file("first", path, passphrase=PASSPHRASE)
    assert signer.active.private_key.private_numbers() == rsa_key.private_numbers()  # type: ignore[union-attr]
    signer.rotate_from_file("second", path, passphrase=PASSPHRASE)
    assert signer.key_id == "second"


def test_rotations_are_counted_and_logged(
    rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    signer = KalshiSigner("first", rsa_key)
    with caplog.at_level(logging.INFO, logger="precog.api_connectors.kalshi_auth"):
        signer.rotate("second", rsa_key)
        signer.rotate("third", rsa_key)
    assert signer.rotations == 2
    assert [r.getMessage() for r in caplog.records] == [
        "Kalshi signing key rotated to key id second",
        "Kalshi signing key rotated to key id third",
    ]


def test_websocket_headers_use_the_given_timestamp(rsa_key: rsa.RSAPrivateKey) -> None:
    headers = KalshiSigner("k", rsa_key).websocket_headers(timestamp_ms=1_700_000_000_123)
    assert headers[HEADER_TIMESTAMP] == "1700000000123"


def test_generated_key_ids_are_fresh_uuid4s() -> None:
    first, second = generate_key_id(), generate_key_id()
    assert uuid.UUID(first).version == 4
    assert first != second
