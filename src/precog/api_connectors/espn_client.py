"""The async ESPN scoreboard client: URLs, politeness, retries and error translation.

Owns the HTTP conversation with ESPN's unofficial site API (reference Part B) for the six
leagues of `espn_models.LEAGUE_PATHS`. Every request goes through `request_json`, which
(1) waits for the client's rate limiter (a token bucket, default one request per second;
it waits, never fails), (2) sends a normal browser-like User-Agent and `Accept:
application/json` (ESPN answers 403 to some default client agents), (3) translates any
failure in ONE place (`translate_response`, `translate_transport`) into the ESPN errors of
`espn_models`, and (4) retries timeouts, connection errors, truncated bodies and 5xx with the
project's backoff policy. A 4xx is an `EspnRequestError` at once, never retried.

Base URL: `ESPN_API_BASE_URL` if set, else the public `https://site.api.espn.com/apis/site/
v2/sports`; the sandbox's ESPN simulator serves the same paths below `/apis/site/v2/sports`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from precog.api_connectors.espn_models import (
    DEFAULT_GROUPS,
    LEAGUE_PATHS,
    EspnError,
    EspnParseError,
    EspnRequestError,
    EspnUnavailableError,
    Scoreboard,
    decode_json,
    parse_scoreboard,
)
from precog.api_connectors.rate_limiter import BucketSpec, TokenBucket
from precog.utils.clock import Clock, SystemClock
from precog.utils.retry import RetryPolicy, retry_async

logger = logging.getLogger(__name__)

PUBLIC_BASE_URL: Final = "https://site.api.espn.com/apis/site/v2/sports"
BASE_URL_VARIABLE: Final = "ESPN_API_BASE_URL"
USER_AGENT: Final = "Mozilla/5.0 (compatible; precog/1.0)"
# Reference B2: any limit above 500 makes ESPN return exactly 25 events.
MAX_LIMIT: Final = 500
_DAY = re.compile(r"^\d{8}$")
_RANGE = re.compile(r"^(\d{8})-(\d{8})$")

Dates = str | dt.date | tuple[dt.date, dt.date]
_USE_DEFAULT_GROUPS: Final = object()


def espn_base_url(environ: Mapping[str, str]) -> str:
    return environ.get(BASE_URL_VARIABLE) or PUBLIC_BASE_URL


def format_dates(dates: Dates) -> str:
    """`dates` as ESPN wants it: YYYYMMDD, or YYYYMMDD-YYYYMMDD for a range (first <= last)."""
    if isinstance(dates, tuple):
        first, last = dates
        if first > last:
            raise ValueError(f"date range {first}..{last} ends before it starts")
        return f"{first:%Y%m%d}-{last:%Y%m%d}"
    if isinstance(dates, dt.date):
        return f"{dates:%Y%m%d}"
    text = dates.strip()
    match = _RANGE.match(text)
    days = match.groups() if match else (text,) if _DAY.match(text) else ()
    try:
        parsed = [dt.datetime.strptime(day, "%Y%m%d").date() for day in days]
    except ValueError:
        parsed = []
    if not parsed or parsed[0] > parsed[-1]:
        raise ValueError(f"dates must be YYYYMMDD or YYYYMMDD-YYYYMMDD, got {dates!r}")
    return text


def league_path(league: str) -> str:
    try:
        return LEAGUE_PATHS[league]
    except KeyError:
        raise ValueError(
            f"unknown league {league!r}; use one of: {', '.join(LEAGUE_PATHS)}"
        ) from None


# ------------------------------------------------------------------ error translation
def translate_response(response: httpx.Response, path: str) -> EspnError:
    """THE mapping of a non-2xx ESPN response to the ESPN errors."""
    status = response.status_code
    text = response.text[:200].strip()
    detail = f": {text}" if text else ""
    if status >= 500:
        return EspnUnavailableError(
            f"ESPN is failing ({status}) on {path}; try later", status=status, path=path
        )
    if status == 429:
        return EspnRequestError(
            f"ESPN throttled {path} (429); lower data_sources.espn.requests_per_second",
            status=status,
            path=path,
        )
    if status == 403:
        return EspnRequestError(
            f"ESPN refused {path} (403){detail}; the client or network may be blocked",
            status=status,
            path=path,
        )
    if 400 <= status < 500:
        return EspnRequestError(
            f"ESPN rejected {path} ({status}){detail}", status=status, path=path
        )
    return EspnError(
        f"ESPN answered {path} with unexpected status {status}", status=status, path=path
    )


def translate_transport(exc: httpx.TransportError, path: str, base_url: str) -> EspnError:
    """THE mapping of an httpx transport failure (no response) to the ESPN errors."""
    timed_out = isinstance(exc, httpx.TimeoutException)
    what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
    return EspnUnavailableError(
        f"cannot reach ESPN at {base_url}: GET {path} {what}; check the network and "
        f"{BASE_URL_VARIABLE}",
        path=path,
    )


@dataclass
class EspnStats:
    """Counters of one client: requests sent, retries made, malformed events skipped."""

    requests: int = 0
    retries: int = 0
    parse_errors: int = 0


class EspnClient:
    """Async ESPN scoreboard client; use `async with EspnClient(...) as client:`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        requests_per_second: float = 1.0,
        limiter: TokenBucket | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base_url = base_url or PUBLIC_BASE_URL
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"ESPN base URL must be http(s)://host/...: {base_url!r}")
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self.base_url = base_url.rstrip("/")
        self._clock: Clock = clock or SystemClock()
        # One request of burst: polite spacing from the first request on.
        self.limiter = limiter or TokenBucket(
            BucketSpec(requests_per_second, 1.0), clock=self._clock, name="espn"
        )
        self.retry_policy = retry_policy or RetryPolicy()
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self.stats = EspnStats()

    async def __aenter__(self) -> EspnClient:
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=self._timeout,
            transport=self._transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def request_json(self, path: str, params: Mapping[str, str]) -> Any:
        """One GET (rate limited, retried on timeouts/5xx/truncation); the decoded body."""
        if self._http is None:
            raise EspnError("ESPN client is not open; use `async with EspnClient(...)`")

        async def attempt() -> Any:
            await self.limiter.acquire(1)
            return await self._send(path, params)

        def on_retry(number: int, exc: BaseException, wait: float) -> None:
            self.stats.retries += 1
            logger.info("ESPN GET %s: retry %d in %.2fs after %s", path, number, wait, exc)

        return await retry_async(
            attempt,
            policy=self.retry_policy,
            is_retryable=lambda exc: isinstance(exc, EspnError) and exc.retryable,
            sleep=self._clock.sleep,
            on_retry=on_retry,
        )

    async def _send(self, path: str, params: Mapping[str, str]) -> Any:
        assert self._http is not None
        self.stats.requests += 1
        try:
            response = await self._http.get(path, params=dict(params))
        except httpx.TransportError as exc:
            raise translate_transport(exc, path, self.base_url) from exc
        if not 200 <= response.status_code < 300:
            raise translate_response(response, path)
        try:
            return decode_json(response.content)
        except ValueError:
            raise EspnUnavailableError(
                f"ESPN sent an unreadable (non-JSON) body for {path}",
                status=response.status_code,
                path=path,
            ) from None

    async def get_scoreboard(
        self,
        league: str,
        *,
        dates: Dates | None = None,
        groups: str | object | None = _USE_DEFAULT_GROUPS,
        limit: int | None = None,
    ) -> Scoreboard:
        """One league's scoreboard (today by default); malformed events counted, not raised.

        College leagues default to their full slate (`groups` 80 = FBS, 50 = Division I);
        pass `groups=None` for ESPN's featured subset. `limit` is at most 500 (above that
        ESPN silently returns 25 events).
        """
        path = f"{league_path(league)}/scoreboard"
        params: dict[str, str] = {}
        if dates is not None:
            params["dates"] = format_dates(dates)
        group = DEFAULT_GROUPS.get(league) if groups is _USE_DEFAULT_GROUPS else groups
        if group is not None:
            params["groups"] = str(group)
        if limit is not None:
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
            params["limit"] = str(limit)
        body = await self.request_json(path, params)
        try:
            board = parse_scoreboard(body, league)
        except EspnParseError as exc:
            exc.path = path
            raise
        for error in board.errors:
            self.stats.parse_errors += 1
            logger.warning("skipping a malformed ESPN event (%s): %s", league, error)
        return board


__all__ = [
    "BASE_URL_VARIABLE",
    "MAX_LIMIT",
    "PUBLIC_BASE_URL",
    "USER_AGENT",
    "EspnClient",
    "EspnStats",
    "espn_base_url",
    "format_dates",
    "league_path",
    "translate_response",
    "translate_transport",
]
