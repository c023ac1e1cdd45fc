"""Key material for the sandbox: create an RSA key pair, write the private key with mode 0600,
register the public half with the sandbox's key registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from precog.api_connectors.kalshi_auth import generate_key_id
from precog.sandbox.auth import KeyRegistry


def write_private_key_file(key: rsa.RSAPrivateKey, path: Path) -> Path:
    """PKCS#1 PEM (what Kalshi hands out), created with mode 0600 from the start."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def create_key_file(registry: KeyRegistry, directory: Path) -> tuple[str, Path]:
    """A new registered RSA-2048 key; returns (key id, private key path)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = generate_key_id()
    path = write_private_key_file(key, directory / f"sandbox-{key_id}.key")
    registry.register(key.public_key(), key_id)
    return key_id, path


__all__ = ["create_key_file", "write_private_key_file"]
