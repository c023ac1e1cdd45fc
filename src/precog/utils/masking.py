"""Masking of secrets in structured data and in text: one mechanism for logs and config.

A value is hidden (replaced by `***`) when it sits under an exact sensitive key name
(case-insensitive, `-` and `_` equivalent; see `SENSITIVE_KEYS`) anywhere in nested data,
or when it is a secret inside a string: PEM private key blocks, passwords in `user:pass@`
URLs, `Authorization:` header values (`Basic`/`Bearer` schemes kept), `Bearer` tokens and
`key=value` / `key: value` pairs whose key is sensitive. Ordinary fields that merely contain
a sensitive word (`keyfile_path`, `tokens_remaining`, `token_bucket`) are kept. "Not set"
(`None` or `""`) under a sensitive key stays visible: it reveals nothing and helps.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

MASK = "***"

# Exact names, normalised: lower case, `-` -> `_`. A key is sensitive only if its whole
# normalised name is in this set (so `keyfile_path` and `tokens_remaining` are not).
SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "api_secret",
        "api_token",
        "apikey",
        "auth_token",
        "authorization",
        "client_secret",
        "cookie",
        "credentials",
        "db_password",
        "id_token",
        "kalshi_access_key",
        "kalshi_access_signature",
        "kalshi_api_key",
        "passphrase",
        "passwd",
        "password",
        "pgpassword",
        "private_key",
        "private_key_pem",
        "privatekey",
        "proxy_authorization",
        "refresh_token",
        "secret",
        "secret_key",
        "session_token",
        "set_cookie",
        "signature",
        "token",
        "x_api_key",
    }
)

_MAX_DEPTH = 32  # deeper (or cyclic) data is masked wholesale rather than walked

_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
# scheme://user:password@host -> keep scheme and user; the password may itself contain '@'.
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@'\"]*:)[^\s/?#'\"]*@")
_KEY_ALTERNATIVES = "|".join(
    sorted((key.replace("_", "[-_]") for key in SENSITIVE_KEYS), key=len, reverse=True)
)
# `password=x`, `"token": "x"`, `Authorization: Basic x`, `Cookie: a=b; c=d` inside text.
_KEY_VALUE = re.compile(
    rf"(?<![A-Za-z0-9_-])(?P<key>{_KEY_ALTERNATIVES})(?![A-Za-z0-9_-])"
    r"(?P<sep>[\"']?[ \t]*[:=][ \t]*)"
    r"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'"
    r"|(?P<scheme>(?:basic|bearer|digest|negotiate|token)[ \t]+)?(?P<bare>[^\s\"',;&}\]]+))",
    re.IGNORECASE,
)
# `Cookie: a=b; c=d` (header style, unquoted): the whole rest of the line is the secret.
_COOKIE_HEADER = re.compile(
    r"(?<![A-Za-z0-9_-])((?:set[-_])?cookie[ \t]*:[ \t]*)(?![\"'])[^\r\n]+", re.IGNORECASE
)
_BEARER = re.compile(r"\b(bearer)[ \t]+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)


def is_sensitive_key(key: object) -> bool:
    """True if `key` is exactly one of `SENSITIVE_KEYS` (case and `-`/`_` ignored)."""
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_KEYS


def _key_value_replacement(match: re.Match[str]) -> str:
    head = match.group("key") + match.group("sep")
    if match.group("dq") is not None:
        return f'{head}"{MASK}"'
    if match.group("sq") is not None:
        return f"{head}'{MASK}'"
    return head + (match.group("scheme") or "") + MASK


def _mentions_sensitive_key(lower: str) -> bool:
    # Every name in SENSITIVE_KEYS contains one of these words; text without any of them
    # cannot hold a `key=value` secret, so the (costlier) regex is skipped.
    return (
        "key" in lower
        or "token" in lower
        or "secret" in lower
        or "pass" in lower
        or "auth" in lower
        or "cookie" in lower
        or "credential" in lower
        or "signature" in lower
    )


def mask_text(text: str) -> str:
    """`text` with embedded secrets (PEM keys, URL passwords, credentials) replaced by ***."""
    # Cheap substring checks decide which patterns can match at all.
    if "-----BEGIN" in text:
        text = _PEM.sub(MASK, text)
    if "@" in text and "://" in text:
        text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    has_separator = ":" in text or "=" in text
    if has_separator or " " in text or "\t" in text:
        lower = text.lower()
        if has_separator:
            if "cookie" in lower:
                text = _COOKIE_HEADER.sub(rf"\1{MASK}", text)
            if _mentions_sensitive_key(lower):
                text = _KEY_VALUE.sub(_key_value_replacement, text)
        if "bearer" in lower:
            text = _BEARER.sub(rf"\1 {MASK}", text)
    return text


_KEPT_AS_IS = (bool, int, Decimal, dt.date, dt.time)


def mask_value(value: Any, _depth: int = 0) -> Any:
    """A masked copy of `value`, ready to serialise; `value` itself is never modified.

    Containers are rebuilt (dicts stay dicts, lists and tuples keep their type, sets become
    lists); strings are masked with `mask_text`; `Decimal`, dates and times are kept for the
    renderers; any other object becomes its masked `str()`. Non-finite floats become strings
    so that every JSON line is strict JSON.
    """
    if isinstance(value, str):
        return mask_text(value)
    if (
        value is None
        or isinstance(value, _KEPT_AS_IS)
        or (isinstance(value, float) and math.isfinite(value))
    ):
        return value
    if _depth >= _MAX_DEPTH:
        return MASK
    if isinstance(value, Mapping):
        return {
            _plain_key(key): mask_entry(item)
            if is_sensitive_key(key)
            else mask_value(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [mask_value(item, _depth + 1) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    try:
        rendered = str(value)
    except Exception:  # an object that cannot even print itself must not break logging
        rendered = f"<unprintable {type(value).__name__}>"
    return mask_text(rendered)


def _plain_key(key: Any) -> Any:
    # JSON object keys must be scalars; anything else (a tuple, say) is shown as text.
    if key is None or isinstance(key, str | int | float):
        return key
    return mask_text(str(key))


def mask_entry(value: Any) -> Any:
    # "Not set" is useful to see and reveals nothing; anything else under the key is hidden.
    return value if value is None or value == "" else MASK
