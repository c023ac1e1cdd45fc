"""Request parsing and cursor pagination of the sandbox REST API, with Kalshi's page limits
and its 400/404 error bodies. Cursors are opaque (base64 of the last key returned), so pages
stay complete when objects are added between requests."""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

# (default, max) page size per list endpoint (reference A3, OpenAPI 3.28).
LIMITS: dict[str, tuple[int, int]] = {
    "markets": (100, 1000),
    "events": (200, 200),
    "trades": (100, 1000),
    "positions": (100, 1000),
    "fills": (100, 1000),
    "settlements": (100, 1000),
    "orders": (100, 1000),
    "historical_fills": (100, 200),
    "historical_orders": (100, 200),
}


class SandboxRequestError(Exception):
    """A request the exchange refuses: HTTP status + Kalshi error code + details."""

    def __init__(self, status: int, code: str, details: str) -> None:
        super().__init__(details)
        self.status = status
        self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.code.replace("_", " "),
                "details": self.details,
            }
        }


def bad_request(details: str) -> SandboxRequestError:
    return SandboxRequestError(400, "invalid_parameters", details)


def not_found(details: str) -> SandboxRequestError:
    return SandboxRequestError(404, "not_found", details)


def encode_cursor(kind: str, key: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode("ascii")


def decode_cursor(kind: str, cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise bad_request("invalid cursor") from None
    prefix, _, key = raw.partition(":")
    if prefix != kind or not key:
        raise bad_request("invalid cursor")
    return key


def parse_limit(raw: str | None, endpoint: str) -> int:
    default, maximum = LIMITS[endpoint]
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer, got {raw!r}") from None
    if value == 0:  # documented as 0..max for /markets; 0 means the default
        return default
    if not 1 <= value <= maximum:
        raise bad_request(f"limit must be between 1 and {maximum}, got {value}")
    return value


def parse_int(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer (Unix seconds), got {raw!r}") from None


def parse_bool(raw: str | None, name: str) -> bool:
    if raw is None or raw == "":
        return False
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false, got {raw!r}")


class _Sequenced(Protocol):
    seq: int


_T = TypeVar("_T", bound=_Sequenced)


def page_by_seq(
    items: list[_T],
    kind: str,
    cursor: str | None,
    limit: int,
    keep: Callable[[_T], bool],
) -> tuple[list[_T], str]:
    """Newest first; the cursor is the seq of the last item returned."""
    before = None
    if cursor:
        key = decode_cursor(kind, cursor)
        if not key.isdigit():
            raise bad_request("invalid cursor")
        before = int(key)
    page: list[_T] = []
    for item in reversed(items):
        if before is not None and item.seq >= before:
            continue
        if keep(item):
            if len(page) == limit:
                return page, encode_cursor(kind, page[-1].seq)
            page.append(item)
    return page, ""


def page_by_key(
    keys: list[str], kind: str, cursor: str | None, limit: int, keep: Callable[[str], bool]
) -> tuple[list[str], str]:
    """Ascending keys; the cursor is the last key returned."""
    start = bisect.bisect_right(keys, decode_cursor(kind, cursor)) if cursor else 0
    page: list[str] = []
    for key in keys[start:]:
        if keep(key):
            if len(page) == limit:
                return page, encode_cursor(kind, page[-1])
            page.append(key)
    return page, ""
