"""Request authentication of the sandbox exchange, as Kalshi does it.

Registered keys map a key id to a public key (RSA or Ed25519). A request is accepted when
it carries the three KALSHI-ACCESS-* headers, the key id is registered (and not revoked),
the timestamp is within ±`max_skew` seconds of the sandbox clock, and the signature of
``timestamp + METHOD + path`` (path without query) verifies with
`precog.api_connectors.kalshi_auth.verify_signature`. Each refusal has its own reason and the
401 body Kalshi sends for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from precog.api_connectors.kalshi_auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    PublicKey,
    generate_key_id,
    presign_message,
    public_key_from_pem,
    verify_signature,
)
from precog.utils.clock import Clock, SystemClock

DEFAULT_MAX_SKEW_SECONDS = 30.0


class AuthFailure(StrEnum):
    """Why a request was refused; the value is the `details` code in the 401 body."""

    MISSING_HEADERS = "MISSING_AUTH_HEADERS"
    UNKNOWN_KEY = "NOT_FOUND"
    BAD_SIGNATURE = "INCORRECT_API_KEY_SIGNATURE"
    TIMESTAMP_EXPIRED = "TIMESTAMP_EXPIRED"
    BAD_TIMESTAMP = "INVALID_TIMESTAMP"


def unauthorized_body(reason: AuthFailure) -> dict[str, Any]:
    """The JSON body Kalshi answers a refused request with (reference A2)."""
    if reason in (AuthFailure.TIMESTAMP_EXPIRED, AuthFailure.BAD_TIMESTAMP):
        return {
            "error": {
                "code": "header_timestamp_expired",
                "message": "header_timestamp_expired",
                "details": f"rpc error: code = Unauthenticated desc = {reason.value}",
            }
        }
    return {
        "error": {
            "code": "authentication_error",
            "message": "authentication_error",
            "details": f"rpc error: code = Unauthenticated desc = {reason.value}",
        }
    }


@dataclass(frozen=True)
class RegisteredKey:
    key_id: str
    public_key: PublicKey


class KeyRegistry:
    """Key id -> public key, with rotation (register new, revoke old). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, RegisteredKey] = {}
        self.revoked: set[str] = set()

    def register(self, public_key: PublicKey | str | bytes, key_id: str | None = None) -> str:
        """Register a public key (object or PEM); returns its key id (new UUID if not given)."""
        resolved = (
            public_key_from_pem(public_key) if isinstance(public_key, str | bytes) else public_key
        )
        new_id = key_id or generate_key_id()
        with self._lock:
            self._keys[new_id] = RegisteredKey(new_id, resolved)
            self.revoked.discard(new_id)
        return new_id

    def revoke(self, key_id: str) -> bool:
        """Forget a key; later requests signed with it get 401 NOT_FOUND. False if unknown."""
        with self._lock:
            removed = self._keys.pop(key_id, None) is not None
            if removed:
                self.revoked.add(key_id)
            return removed

    def rotate(
        self,
        old_key_id: str,
        new_public_key: PublicKey | str | bytes,
        new_key_id: str | None = None,
    ) -> str:
        """Register the new key, then revoke the old one; returns the new key id."""
        new_id = self.register(new_public_key, new_key_id)
        self.revoke(old_key_id)
        return new_id

    def get(self, key_id: str) -> RegisteredKey | None:
        with self._lock:
            return self._keys.get(key_id)

    def key_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)


class RequestAuthenticator:
    """Checks the KALSHI-ACCESS-* headers of one request against the registry and clock."""

    def __init__(
        self,
        registry: KeyRegistry,
        *,
        clock: Clock | None = None,
        max_skew: float = DEFAULT_MAX_SKEW_SECONDS,
    ) -> None:
        self.registry = registry
        self.clock: Clock = clock or SystemClock()
        self.max_skew = max_skew
        self.accepted = 0
        self.refused: dict[AuthFailure, int] = dict.fromkeys(AuthFailure, 0)
        self._lock = threading.Lock()

    def check(self, method: str, path: str, headers: Any) -> AuthFailure | None:
        """None if the request is authentic, else the reason to refuse it."""
        reason = self._reason(method, path, headers)
        with self._lock:
            if reason is None:
                self.accepted += 1
            else:
                self.refused[reason] += 1
        return reason

    def _reason(self, method: str, path: str, headers: Any) -> AuthFailure | None:
        key_id = headers.get(HEADER_KEY)
        timestamp = headers.get(HEADER_TIMESTAMP)
        signature = headers.get(HEADER_SIGNATURE)
        if not key_id or not timestamp or not signature:
            return AuthFailure.MISSING_HEADERS
        registered = self.registry.get(key_id)
        if registered is None:
            return AuthFailure.UNKNOWN_KEY
        if not timestamp.isdigit() or len(timestamp) > 16:
            return AuthFailure.BAD_TIMESTAMP
        skew = int(timestamp) / 1000.0 - self.clock.now().timestamp()
        if abs(skew) > self.max_skew:
            return AuthFailure.TIMESTAMP_EXPIRED
        message = presign_message(timestamp, method, path)
        if not verify_signature(registered.public_key, message, signature):
            return AuthFailure.BAD_SIGNATURE
        return None


__all__ = [
    "DEFAULT_MAX_SKEW_SECONDS",
    "AuthFailure",
    "KeyRegistry",
    "RegisteredKey",
    "RequestAuthenticator",
    "unauthorized_body",
]
