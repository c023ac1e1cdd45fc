"""Kalshi request signing: key loading, the pre-sign string, the three KALSHI-ACCESS-* headers,
runtime key rotation, credentials from the environment, and signature verification.

What Kalshi signs (reference A2): ``timestamp_ms + METHOD + path``, where ``path`` is the full
URL path from the host root (``/trade-api/v2/...``, or ``/trade-api/ws/v2`` for the WebSocket
handshake), the query string removed and the body never included. RSA keys sign with
RSA-PSS / SHA-256 / MGF1-SHA-256 / salt length 32 (= the digest length); Ed25519 keys sign the
same bytes with plain Ed25519. The signature travels as standard base64.

Usage::

    signer = KalshiSigner.from_environment(os.environ)      # {ENV}_KALSHI_API_KEY / ..._PATH
    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance?limit=5")
    # {"KALSHI-ACCESS-KEY": ..., "KALSHI-ACCESS-TIMESTAMP": ..., "KALSHI-ACCESS-SIGNATURE": ...}
    signer.rotate_from_file(new_key_id, "/path/to/new.key")  # atomic; old key never used again

`verify_signature` is the verification side (the sandbox exchange uses it).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import os
import stat
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from precog.config.environment import (
    Environment,
    kalshi_credential_variables,
    resolve_environment,
)
from precog.errors import ConfigError
from precog.utils.clock import Clock, SystemClock

logger = logging.getLogger(__name__)

HEADER_KEY: Final = "KALSHI-ACCESS-KEY"
HEADER_SIGNATURE: Final = "KALSHI-ACCESS-SIGNATURE"
HEADER_TIMESTAMP: Final = "KALSHI-ACCESS-TIMESTAMP"
REST_PATH_PREFIX: Final = "/trade-api/v2"
WEBSOCKET_PATH: Final = "/trade-api/ws/v2"
PSS_SALT_LENGTH: Final = 32  # = SHA-256 digest length, what Kalshi signs and verifies with
MIN_RSA_BITS: Final = 2048
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MILLISECOND: Final = dt.timedelta(milliseconds=1)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class AuthConfigError(ConfigError):
    """The Kalshi credentials are missing or unusable (exit 2: fix the configuration)."""


class MissingCredentialsError(AuthConfigError):
    """The environment lacks the Kalshi key id and/or key file variables."""


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


# ------------------------------------------------------------------------------ key loading
def parse_private_key(data: bytes, *, source: str, passphrase: bytes | None = None) -> PrivateKey:
    """A PEM private key (RSA PKCS#1 or PKCS#8, or Ed25519 PKCS#8) from bytes."""
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        # cryptography raises TypeError for "encrypted but no password" and the reverse.
        if passphrase is None:
            raise AuthConfigError(
                f"Kalshi private key {source} is encrypted; supply its passphrase or "
                "export it without encryption"
            ) from exc
        raise AuthConfigError(
            f"Kalshi private key {source} is not encrypted but a passphrase was given; "
            "drop the passphrase"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        if passphrase is not None and b"ENCRYPTED" in data:
            raise AuthConfigError(
                f"Kalshi private key {source} could not be decrypted: wrong passphrase"
            ) from exc
        raise AuthConfigError(
            f"Kalshi private key {source} is not a PEM RSA or Ed25519 private key; use the "
            "key file Kalshi gave you (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)"
        ) from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise AuthConfigError(
                f"Kalshi private key {source} is RSA-{key.key_size}; Kalshi keys are at "
                f"least {MIN_RSA_BITS} bits"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise AuthConfigError(
        f"Kalshi private key {source} is a {type(key).__name__.removeprefix('_')}; Kalshi "
        "accepts RSA or Ed25519 keys only"
    )


def _warn_if_exposed(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "Kalshi private key %s is accessible by group/others (mode %s); run: chmod 600 %s",
            path,
            oct(stat.S_IMODE(mode)),
            path,
        )


def load_private_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> PrivateKey:
    """Read and parse a private key file; every failure is one AuthConfigError line."""
    key_path = Path(path).expanduser()
    try:
        data = key_path.read_bytes()
    except FileNotFoundError:
        raise AuthConfigError(
            f"Kalshi private key file {key_path} does not exist; check the key path variable"
        ) from None
    except IsADirectoryError:
        raise AuthConfigError(
            f"Kalshi private key path {key_path} is a directory; point it at the key file"
        ) from None
    except OSError as exc:
        raise AuthConfigError(
            f"Kalshi private key file {key_path} cannot be read ({exc.strerror}); "
            "fix its permissions"
        ) from None
    key = parse_private_key(data, source=str(key_path), passphrase=passphrase)
    _warn_if_exposed(key_path)
    return key


def public_key_from_pem(data: bytes | str) -> PublicKey:
    """An RSA or Ed25519 public key from PEM (SubjectPublicKeyInfo or PKCS#1)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AuthConfigError("public key is not a PEM RSA or Ed25519 public key") from exc
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    raise AuthConfigError(f"public key type {type(key).__name__} is not RSA or Ed25519")


def public_key_pem(key: PrivateKey | PublicKey) -> str:
    """SubjectPublicKeyInfo PEM of a key's public half (what you register with Kalshi)."""
    public = (
        key.public_key() if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) else key
    )
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


# ------------------------------------------------------------------------------ signing
def signing_path(target: str) -> str:
    """The path Kalshi signs: from the host root, no query string, no fragment.

    Accepts a path (``/trade-api/v2/markets?limit=5``) or a full URL.
    """
    path = urlsplit(target).path if "://" in target else target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise ValueError(f"signing path must start with '/': {target!r}")
    return path


def presign_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """``timestamp_ms + METHOD + path`` (query stripped) as UTF-8 bytes."""
    return f"{timestamp_ms}{method.upper()}{signing_path(path)}".encode()


def sign_message(key: PrivateKey, message: bytes) -> str:
    """Base64 signature of `message`: RSA-PSS/SHA-256/salt 32 for RSA, Ed25519 otherwise."""
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(message, _pss(), hashes.SHA256())
    else:
        signature = key.sign(message)
    return base64.b64encode(signature).decode("ascii")


def verify_signature(key: PublicKey, message: bytes, signature_b64: str) -> bool:
    """True when `signature_b64` is a valid signature of `message` as Kalshi verifies it
    (RSA-PSS with SHA-256, MGF1-SHA-256 and exactly a 32-byte salt; or Ed25519)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, _pss(), hashes.SHA256())
        else:
            key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """One key id with its private key; swapped as a unit so id and key never mismatch."""

    key_id: str
    private_key: PrivateKey

    @property
    def algorithm(self) -> str:
        return "rsa-pss" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ed25519"


class KalshiSigner:
    """Signs Kalshi requests with the current key; thread-safe, rotatable at runtime.

    `headers(method, path)` returns the three KALSHI-ACCESS-* headers for a REST path
    (``/trade-api/v2/...``, query allowed and ignored) and `websocket_headers()` those of the
    WebSocket upgrade. `rotate(...)` / `rotate_from_file(...)` swap key id and key together
    atomically: every signature is made with exactly one (key id, key) pair, and once the
    rotation call returns no later signature uses the old key. A rotation whose new key
    fails to load raises AuthConfigError and leaves the old key in use. The timestamp comes
    from the injected clock (`Clock.now()`), so tests can sign "in the past".
    """

    def __init__(self, key_id: str, private_key: PrivateKey, *, clock: Clock | None = None) -> None:
        _check_key_id(key_id)
        self._active = SigningKey(key_id, private_key)
        self._clock: Clock = clock or SystemClock()
        self._rotation_lock = threading.Lock()
        self.rotations = 0

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_file(
        cls,
        key_id: str,
        path: str | os.PathLike[str],
        *,
        passphrase: bytes | None = None,
        clock: Clock | None = None,
    ) -> KalshiSigner:
        return cls(key_id, load_private_key(path, passphrase), clock=clock)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str], *, clock: Clock | None = None
    ) -> KalshiSigner:
        """From ``{ENV}_KALSHI_API_KEY`` / ``{ENV}_KALSHI_PRIVATE_KEY_PATH``, ENV = PRECOG_ENV."""
        credentials = KalshiCredentials.from_environment(environ)
        return cls.from_file(credentials.key_id, credentials.private_key_path, clock=clock)

    # -- state -------------------------------------------------------------------------
    @property
    def key_id(self) -> str:
        return self._active.key_id

    @property
    def active(self) -> SigningKey:
        """The current (key id, key) pair, read atomically."""
        return self._active

    def rotate(self, key_id: str, private_key: PrivateKey) -> None:
        """Use `key_id` / `private_key` for every signature from now on."""
        _check_key_id(key_id)
        with self._rotation_lock:
            self._active = SigningKey(key_id, private_key)  # one reference swap: atomic
            self.rotations += 1
        logger.info("Kalshi signing key rotated to key id %s", key_id)

    def rotate_from_file(
        self, key_id: str, path: str | os.PathLike[str], *, passphrase: bytes | None = None
    ) -> None:
        """Load the new key first; on any failure the old key stays in use."""
        self.rotate(key_id, load_private_key(path, passphrase))

    # -- signing -----------------------------------------------------------------------
    def timestamp_ms(self) -> int:
        """Unix milliseconds from the clock, in exact integer arithmetic (no float rounding)."""
        return (self._clock.now() - _EPOCH) // _MILLISECOND

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three KALSHI-ACCESS-* headers for `method` on `path` (or a full URL)."""
        active = self._active  # read once: id and key come from the same pair
        ts = self.timestamp_ms() if timestamp_ms is None else timestamp_ms
        signature = sign_message(active.private_key, presign_message(ts, method, path))
        return {
            HEADER_KEY: active.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: signature,
        }

    def websocket_headers(self, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """Headers for the WebSocket upgrade: ``GET /trade-api/ws/v2`` is what is signed."""
        return self.headers("GET", WEBSOCKET_PATH, timestamp_ms=timestamp_ms)

    def __repr__(self) -> str:  # never the key material
        return f"KalshiSigner(key_id={self.key_id!r}, algorithm={self._active.algorithm!r})"


def _check_key_id(key_id: str) -> None:
    if not key_id or not key_id.strip() or any(ch in key_id for ch in "\r\n"):
        raise AuthConfigError("Kalshi API key id is empty or contains line breaks")


# ------------------------------------------------------------------------------ credentials
@dataclass(frozen=True)
class KalshiCredentials:
    """Where the credentials of one environment are: the key id and the key file path."""

    environment: Environment
    key_id: str
    private_key_path: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> KalshiCredentials:
        env = resolve_environment(environ)
        key_var, path_var = kalshi_credential_variables(env)
        key_id = environ.get(key_var, "").strip()
        key_path = environ.get(path_var, "").strip()
        missing = [name for name, value in ((key_var, key_id), (path_var, key_path)) if not value]
        if missing:
            raise MissingCredentialsError(
                f"missing Kalshi credentials for PRECOG_ENV={env}: set {key_var} (API key id) "
                f"and {path_var} (private key file); unset: {', '.join(missing)}"
            )
        return cls(env, key_id, Path(key_path).expanduser())


def generate_key_id() -> str:
    """A fresh key id in Kalshi's format (a UUID)."""
    return str(uuid.uuid4())


__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "PSS_SALT_LENGTH",
    "REST_PATH_PREFIX",
    "WEBSOCKET_PATH",
    "AuthConfigError",
    "KalshiCredentials",
    "KalshiSigner",
    "MissingCredentialsError",
    "PrivateKey",
    "PublicKey",
    "SigningKey",
    "generate_key_id",
    "load_private_key",
    "parse_private_key",
    "presign_message",
    "public_key_from_pem",
    "public_key_pem",
    "sign_message",
    "signing_path",
    "verify_signature",
]
