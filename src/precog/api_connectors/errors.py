"""The Kalshi error subtree: what a caller must do about a failed exchange call.

Errors are classified by the caller's next move, httpx style::

    PrecogError (exit 1)
    └── KalshiError                      any failure talking to Kalshi
        ├── TransportError        [4]    timeout / connection refused / reset: retry
        │   └── InvalidBodyError  [4]    a 2xx whose body is not JSON (truncated): retry
        ├── ServerError           [4]    5xx from the exchange: retry
        ├── RateLimitedError      [4]    429: back off, then retry
        ├── OutcomeUnknownError   [4]    a WRITE timed out or got a 5xx: it may have happened;
        │                                reconcile (e.g. look the order up), never resend blindly
        ├── AuthError                    401: stop; carries the server's reason
        │                                (bad signature / expired timestamp / unknown key)
        ├── NotFoundError                404: the ticker/order/event does not exist
        ├── RejectedError                any other 4xx: the request is wrong; never retried
        ├── ParseError                   a response record is malformed; names the field
        └── ClientClosedError            the client was used outside its open state

`[4]` marks classes that are also `precog.errors.ServiceUnavailableError`, so the CLI exits
with 4 ("external service unavailable") when the exchange cannot be reached after the
retries; everything else exits 1. Missing credentials are a `ConfigError` (exit 2) raised by
`kalshi_auth`, not by this tree.

Translation from HTTP responses and httpx exceptions into this tree happens in exactly one
place: `precog.api_connectors.kalshi_client.translate_response` / `translate_transport`.
"""

from __future__ import annotations

from typing import ClassVar

from precog.errors import EXIT_RUNTIME, EXIT_UNAVAILABLE, PrecogError, ServiceUnavailableError


class KalshiError(PrecogError):
    """A failure talking to Kalshi; `status` is the HTTP status when there was a response."""

    exit_code: ClassVar[int] = EXIT_RUNTIME
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.attempts = 1  # set by the client when retries were used up


class TransportError(KalshiError, ServiceUnavailableError):
    """No usable response: timeout, refused or reset connection. Safe to retry a read."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE
    retryable: ClassVar[bool] = True


class InvalidBodyError(TransportError):
    """A success status with a body that is not JSON (truncated/corrupted in transit)."""


class ServerError(KalshiError, ServiceUnavailableError):
    """The exchange answered 5xx. Safe to retry a read."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE
    retryable: ClassVar[bool] = True


class RateLimitedError(KalshiError, ServiceUnavailableError):
    """429: the account's token bucket is empty. Back off (Retry-After if sent), then retry."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class OutcomeUnknownError(KalshiError, ServiceUnavailableError):
    """A write timed out or got a 5xx: it may or may not have taken effect. Never 'rejected'."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE


class AuthError(KalshiError):
    """401: the exchange refused our credentials; `reason` says why. Do not retry."""

    def __init__(self, message: str, *, reason: str, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reason = reason


class NotFoundError(KalshiError):
    """404: the requested object does not exist on the exchange."""


class RejectedError(KalshiError):
    """Any other 4xx: the exchange refused the request as invalid. Never retried."""


class ParseError(KalshiError):
    """A response record does not have the documented shape; `field` names the culprit."""

    def __init__(self, *, record: str, field: str, problem: str, index: int | None = None) -> None:
        where = f"{record}[{index}]" if index is not None else record
        super().__init__(f"malformed {where} from Kalshi: field {field!r} {problem}")
        self.record = record
        self.field = field
        self.problem = problem
        self.index = index

    def at(self, index: int) -> ParseError:
        """The same error located at position `index` of a list."""
        return ParseError(record=self.record, field=self.field, problem=self.problem, index=index)


class ClientClosedError(KalshiError):
    """The client was used before `open()` / after `aclose()`."""


__all__ = [
    "AuthError",
    "ClientClosedError",
    "InvalidBodyError",
    "KalshiError",
    "NotFoundError",
    "OutcomeUnknownError",
    "ParseError",
    "RateLimitedError",
    "RejectedError",
    "ServerError",
    "TransportError",
]
