"""The async Kalshi REST client (Trade API v2): endpoints, pagination, limits, retries, errors.

Owns: the HTTP conversation with one Kalshi target (sandbox, demo or live). Every request
goes through `request_json`, which (1) takes tokens from the account's shared rate limiter
(signed requests) or from the host's public bucket (unsigned public GETs, which Kalshi does
not charge to the account),
(2) signs the request with the injected signer, (3) translates any failure into the
`precog.api_connectors.errors` tree in ONE place (`translate_response`,
`translate_transport`), and (4) retries timeouts, connection errors, 5xx and 429 with the
project's single backoff policy (`precog.utils.retry`), honouring Retry-After when a server
sends one. Other 4xx are never retried. Writes (none yet: orders are read-only in this
phase) are never retried after a timeout/5xx: their outcome is unknown.

Lifecycle is explicit: `KalshiClient(...)` is NEW; `open()` / `async with` makes it OPEN;
`aclose()` makes it CLOSED for good. Every list endpoint has a `get_*` (one page, as a
`ParsedPage` with the bad records reported, not dropped) and an `iter_*` async iterator
that follows `cursor` until it is empty (fills and orders also with the history before
Kalshi's cutoff: `iter_all_fill_pages`, `iter_all_order_pages`); both come from one table
(`ListEndpoint`: path, page parser, signed or not) and one pagination loop, with each
endpoint's filters typed by a `TypedDict`.

Base URL: `KALSHI_API_BASE_URL` if set, else by mode (demo/live public hosts); the sandbox
has no fixed URL (it is started on a free loopback port), see `kalshi_base_url`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Generic, Protocol, TypedDict, TypeVar, Unpack
from urllib.parse import quote, urlsplit

import httpx

from precog.api_connectors.errors import (
    AuthError,
    ClientClosedError,
    InvalidBodyError,
    KalshiError,
    NotFoundError,
    OutcomeUnknownError,
    ParseError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TransportError,
)
from precog.api_connectors.kalshi_models import (
    Balance,
    Event,
    ExchangeStatus,
    Fill,
    HistoricalCutoff,
    Market,
    Order,
    Orderbook,
    ParsedPage,
    PositionsPage,
    Series,
    Settlement,
    Trade,
    decode_json,
    object_field,
    parse_balance,
    parse_event,
    parse_exchange_status,
    parse_fill,
    parse_historical_cutoff,
    parse_list,
    parse_market,
    parse_order,
    parse_orderbook,
    parse_page,
    parse_positions_page,
    parse_series,
    parse_settlement,
    parse_trade,
)
from precog.api_connectors.rate_limiter import (
    AccountLimiter,
    LimiterRegistry,
    Tier,
    TierLimits,
    default_registry,
)
from precog.config.environment import KalshiMode
from precog.utils.clock import Clock, SystemClock
from precog.utils.retry import RetryPolicy, parse_retry_after, retry_async

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P", bound="_Page")

PUBLIC_BASE_URLS: Final[Mapping[KalshiMode, str]] = {
    KalshiMode.DEMO: "https://external-api.demo.kalshi.co/trade-api/v2",
    KalshiMode.LIVE: "https://external-api.kalshi.com/trade-api/v2",
}
BASE_URL_VARIABLE: Final = "KALSHI_API_BASE_URL"

# Reference A3: (default, max) page sizes.
MAX_LIMIT: Final[Mapping[str, int]] = {
    "/markets": 1000,
    "/events": 200,
    "/markets/trades": 1000,
    "/portfolio/positions": 1000,
    "/portfolio/fills": 1000,
    "/portfolio/settlements": 1000,
    "/portfolio/orders": 1000,
    # Not in the reference's table; the SDK documents 200 (a smaller page always works).
    "/historical/fills": 200,
    "/historical/orders": 200,
}

Timestamp = int | dt.datetime
ParamValue = str | int | bool | dt.datetime | Sequence[str] | None


# Filters of each list endpoint (reference A4), keyword arguments of its get_*/iter_* methods.
class MarketFilters(TypedDict, total=False):
    event_ticker: str | None
    series_ticker: str | None
    tickers: Sequence[str] | None
    status: str | None
    mve_filter: str | None
    min_created_ts: Timestamp | None
    max_created_ts: Timestamp | None
    min_close_ts: Timestamp | None
    max_close_ts: Timestamp | None
    min_settled_ts: Timestamp | None
    max_settled_ts: Timestamp | None
    min_updated_ts: Timestamp | None


class TradeFilters(TypedDict, total=False):
    ticker: str | None
    min_ts: Timestamp | None
    max_ts: Timestamp | None


class EventFilters(TypedDict, total=False):
    status: str | None
    series_ticker: str | None
    with_nested_markets: bool
    tickers: Sequence[str] | None
    min_close_ts: Timestamp | None


class PositionFilters(TypedDict, total=False):
    ticker: str | None
    event_ticker: str | None
    count_filter: Sequence[str] | None
    settlement_status: str | None


class FillFilters(TypedDict, total=False):
    ticker: str | None
    order_id: str | None
    min_ts: Timestamp | None
    max_ts: Timestamp | None


class SettlementFilters(TypedDict, total=False):
    ticker: str | None
    event_ticker: str | None
    min_ts: Timestamp | None
    max_ts: Timestamp | None


class OrderFilters(TypedDict, total=False):
    ticker: str | None
    event_ticker: str | None
    status: str | None
    min_ts: Timestamp | None
    max_ts: Timestamp | None


class HistoricalFilters(TypedDict, total=False):
    ticker: str | None
    max_ts: Timestamp | None


@dataclass(frozen=True)
class ListEndpoint(Generic[P]):
    """One cursor-paginated GET endpoint: its path, how a page parses, whether it is signed."""

    path: str
    parse: Callable[[Any], P]
    auth: bool


def _list_of(
    key: str, parser: Callable[[object], T], record: str
) -> Callable[[Any], ParsedPage[T]]:
    return lambda body: parse_page(body, key, parser, record=record)


MARKETS: Final = ListEndpoint("/markets", _list_of("markets", parse_market, "Market"), auth=False)
TRADES: Final = ListEndpoint(
    "/markets/trades", _list_of("trades", parse_trade, "Trade"), auth=False
)
SERIES: Final = ListEndpoint("/series", _list_of("series", parse_series, "Series"), auth=False)
EVENTS: Final = ListEndpoint("/events", _list_of("events", parse_event, "Event"), auth=False)
POSITIONS: Final = ListEndpoint("/portfolio/positions", parse_positions_page, auth=True)
FILLS: Final = ListEndpoint("/portfolio/fills", _list_of("fills", parse_fill, "Fill"), auth=True)
SETTLEMENTS: Final = ListEndpoint(
    "/portfolio/settlements",
    _list_of("settlements", parse_settlement, "Settlement"),
    auth=True,
)
ORDERS: Final = ListEndpoint(
    "/portfolio/orders", _list_of("orders", parse_order, "Order"), auth=True
)

# Fills and finished orders older than the historical cutoff live only here (A4.11, A4.13).
HISTORICAL_FILLS: Final = ListEndpoint(
    "/historical/fills", _list_of("fills", parse_fill, "Fill"), auth=True
)
HISTORICAL_ORDERS: Final = ListEndpoint(
    "/historical/orders", _list_of("orders", parse_order, "Order"), auth=True
)


def kalshi_base_url(mode: KalshiMode, environ: Mapping[str, str]) -> str | None:
    """REST base URL for `mode`: KALSHI_API_BASE_URL wins; None means 'start the sandbox'."""
    override = environ.get(BASE_URL_VARIABLE, "").strip()
    if override:
        return override.rstrip("/")
    return PUBLIC_BASE_URLS.get(mode)


class RequestSigner(Protocol):
    """What the client needs from `kalshi_auth.KalshiSigner`."""

    @property
    def key_id(self) -> str: ...

    def headers(self, method: str, path: str) -> dict[str, str]: ...


class _Page(Protocol):
    @property
    def errors(self) -> tuple[ParseError, ...]: ...

    @property
    def cursor(self) -> str | None: ...


class ClientState(StrEnum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@dataclass
class ClientStats:
    """Counters of one client (requests sent, retries made, bad records seen)."""

    requests: int = 0
    retries: int = 0
    parse_errors: int = 0


# ------------------------------------------------------------------ error translation
_AUTH_REASONS: Final = (
    ("INCORRECT_API_KEY_SIGNATURE", "bad signature"),
    ("TIMESTAMP", "expired timestamp"),
    ("NOT_FOUND", "unknown key"),
    ("MISSING", "missing authentication headers"),
)


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """(code, human text) from any of Kalshi's error body shapes (reference A5)."""
    try:
        body = decode_json(response.content)
    except ValueError:
        return None, response.text[:200].strip()
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, str):  # 429: {"error": "too many requests"}
            return None, inner
        if isinstance(inner, Mapping):
            code = inner.get("code")
            parts = [str(inner[k]) for k in ("message", "details", "msg") if inner.get(k)]
            text = "; ".join(dict.fromkeys(parts))
            return (str(code) if code is not None else None), text
    return None, str(body)[:200]


def _auth_reason(code: str | None, text: str) -> str:
    haystack = f"{code or ''} {text}".upper()
    for marker, reason in _AUTH_REASONS:
        if marker in haystack:
            return reason
    return code or "unauthorized"


def translate_response(  # noqa: PLR0911 (one return per row of the status table)
    response: httpx.Response, method: str, path: str
) -> KalshiError:
    """THE mapping of a non-2xx Kalshi response to the error tree."""
    status = response.status_code
    code, text = _error_fields(response)
    where = f"{method} {path}"
    detail = f": {text}" if text else ""
    ctx: dict[str, Any] = {"status": status, "code": code, "method": method, "path": path}
    write = method.upper() not in ("GET", "HEAD")
    if status == 401:
        reason = _auth_reason(code, text)
        return AuthError(
            f"Kalshi refused the credentials ({reason}) on {where}; check the API key id, "
            "the private key file and the system clock",
            reason=reason,
            **ctx,
        )
    if status == 403:
        return AuthError(
            f"Kalshi forbids {where} for this key{detail}; check the key's scopes",
            reason="forbidden",
            **ctx,
        )
    if status == 404:
        return NotFoundError(f"Kalshi has no such object: {where}{detail}", **ctx)
    if status == 429:
        return RateLimitedError(
            f"Kalshi rate limit hit on {where}; slow down or raise the tier",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            **ctx,
        )
    if status >= 500:
        if write:
            return OutcomeUnknownError(
                f"Kalshi answered {status} to {where}: the write may or may not have happened; "
                "check its state before retrying",
                **ctx,
            )
        return ServerError(f"Kalshi is failing ({status}) on {where}{detail}; try later", **ctx)
    if 400 <= status < 500:
        return RejectedError(f"Kalshi rejected {where} ({status}){detail}", **ctx)
    return KalshiError(f"Kalshi answered {where} with unexpected status {status}", **ctx)


def translate_transport(exc: httpx.TransportError, method: str, path: str, url: str) -> KalshiError:
    """THE mapping of an httpx transport failure (no response) to the error tree."""
    ctx: dict[str, Any] = {"method": method, "path": path}
    kind = type(exc).__name__
    not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if method.upper() not in ("GET", "HEAD") and not not_sent:
        return OutcomeUnknownError(
            f"Kalshi {method} {path} failed mid-request ({kind}): the write may or may not "
            "have happened; check its state before retrying",
            **ctx,
        )
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else f"failed ({kind})"
    return TransportError(
        f"cannot reach Kalshi at {url}: {method} {path} {what}; check the network and "
        f"{BASE_URL_VARIABLE}",
        **ctx,
    )


# ------------------------------------------------------------------ the client
def _param(value: ParamValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp filters must be timezone-aware datetimes")
        return str(int(value.timestamp()))
    if isinstance(value, int | str):
        return str(value)
    return ",".join(value)


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an identifier in a Kalshi path must not be empty")
    return quote(value, safe="")


class KalshiClient:
    """Async Kalshi Trade API v2 client; use `async with KalshiClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: RequestSigner | None = None,
        limiter: AccountLimiter | None = None,
        public_limiter: AccountLimiter | None = None,
        registry: LimiterRegistry | None = None,
        tier: Tier | TierLimits = Tier.BASIC,
        retry_policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Kalshi base URL must be http(s)://host/...: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._path_prefix = parts.path.rstrip("/")  # signed paths include /trade-api/v2
        self._signer = signer
        self._clock: Clock = clock or SystemClock()
        account = signer.key_id if signer is not None else "anonymous"
        # `registry or ...` would be wrong: an empty registry is falsy (it has __len__).
        registry = registry if registry is not None else default_registry()
        if limiter is None:
            limiter = registry.for_account(account, tier)
        if public_limiter is None:
            # Kalshi meters only signed requests against the account (reference A6): unsigned
            # public GETs get their own bucket per exchange host, paced like the tier's reads
            # (the tier of the account limiter when one is given).
            public_limiter = registry.for_account(f"public@{parts.netloc}", limiter.limits)
        self.limiter = limiter
        self.public_limiter = public_limiter
        self.retry_policy = retry_policy or RetryPolicy()
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self.state = ClientState.NEW
        self.stats = ClientStats()

    @property
    def signer(self) -> RequestSigner | None:
        """The signer of this client's requests (a WebSocket to the same target reuses it)."""
        return self._signer

    # -- lifecycle ---------------------------------------------------------------------
    async def open(self) -> KalshiClient:
        if self.state is ClientState.CLOSED:
            raise ClientClosedError("this Kalshi client was closed; create a new one")
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.base_url + "/",
                timeout=self._timeout,
                transport=self._transport,
                headers={"Accept": "application/json", "User-Agent": "precog"},
                follow_redirects=False,
            )
        self.state = ClientState.OPEN
        return self

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self.state = ClientState.CLOSED

    async def __aenter__(self) -> KalshiClient:
        return await self.open()

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    # -- the one request path ----------------------------------------------------------
    async def request_json(
        self,
        method: str,
        path: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        auth: bool = True,
    ) -> Any:
        """Send one logical request (rate limited, signed, retried); return the JSON body."""
        if self.state is not ClientState.OPEN or self._http is None:
            raise ClientClosedError(f"Kalshi client is {self.state}; open it first")
        method = method.upper()
        query = {k: v for k, v in ((k, _param(v)) for k, v in (params or {}).items()) if v}
        write = method not in ("GET", "HEAD")
        signed = auth and self._signer is not None
        limiter = self.limiter if signed else self.public_limiter

        async def attempt() -> Any:
            if write:
                await limiter.acquire_write()
            else:
                await limiter.acquire_read()
            return await self._send(method, path, query, auth=auth)

        def on_retry(number: int, exc: BaseException, wait: float) -> None:
            self.stats.retries += 1
            logger.info("Kalshi %s %s: retry %d in %.2fs after %s", method, path, number, wait, exc)

        try:
            return await retry_async(
                attempt,
                policy=self.retry_policy,
                is_retryable=lambda exc: isinstance(exc, KalshiError) and exc.retryable,
                retry_after=lambda exc: (
                    exc.retry_after if isinstance(exc, RateLimitedError) else None
                ),
                sleep=self._clock.sleep,
                on_retry=on_retry,
            )
        except KalshiError as exc:
            if exc.retryable:
                exc.attempts = self.retry_policy.max_retries + 1
            raise

    async def _send(self, method: str, path: str, query: Mapping[str, str], *, auth: bool) -> Any:
        assert self._http is not None
        full_path = self._path_prefix + path
        headers = self._signer.headers(method, full_path) if auth and self._signer else {}
        self.stats.requests += 1
        started = time.perf_counter()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "kalshi request %s %s",
                method,
                full_path,
                extra={
                    "http_method": method,
                    "path": full_path,
                    "params": dict(query),
                    "headers": headers,
                },
            )
        try:
            response = await self._http.request(
                method, path.lstrip("/"), params=query, headers=headers
            )
        except httpx.TransportError as exc:
            raise translate_transport(exc, method, path, self.base_url) from exc
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "kalshi response %s %s -> %d",
                method,
                full_path,
                response.status_code,
                extra={
                    "status": response.status_code,
                    "headers": dict(response.headers),
                    "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        if not 200 <= response.status_code < 300:
            raise translate_response(response, method, path)
        try:
            return decode_json(response.content)
        except ValueError:
            if method not in ("GET", "HEAD"):  # it happened, but we cannot tell the result
                raise OutcomeUnknownError(
                    f"Kalshi accepted {method} {path} but sent an unreadable body; check its "
                    "state before retrying",
                    status=response.status_code,
                    method=method,
                    path=path,
                ) from None
            raise InvalidBodyError(
                f"Kalshi sent an unreadable (non-JSON) body for {method} {path}",
                status=response.status_code,
                method=method,
                path=path,
            ) from None

    # -- pagination --------------------------------------------------------------------
    def _record_errors(self, errors: tuple[ParseError, ...]) -> None:
        for error in errors:
            self.stats.parse_errors += 1
            logger.warning("skipping a malformed Kalshi record: %s", error)

    def _list_params(
        self, endpoint: ListEndpoint[Any], limit: int | None, filters: Mapping[str, Any]
    ) -> dict[str, ParamValue]:
        max_limit = MAX_LIMIT[endpoint.path]
        if limit is not None and not 1 <= limit <= max_limit:
            raise ValueError(f"limit for {endpoint.path} must be between 1 and {max_limit}")
        # A false flag is the API's default: it is not sent at all.
        params = {key: None if value is False else value for key, value in filters.items()}
        return {"limit": limit, **params}

    async def _page(self, endpoint: ListEndpoint[P], params: Mapping[str, ParamValue]) -> P:
        body = await self.request_json("GET", endpoint.path, params, auth=endpoint.auth)
        page = endpoint.parse(body)
        self._record_errors(page.errors)
        return page

    async def _get_page(
        self,
        endpoint: ListEndpoint[P],
        limit: int | None,
        cursor: str | None,
        filters: Mapping[str, Any],
    ) -> P:
        return await self._page(
            endpoint, {**self._list_params(endpoint, limit, filters), "cursor": cursor}
        )

    def _iter_pages(
        self, endpoint: ListEndpoint[P], limit: int | None, filters: Mapping[str, Any]
    ) -> AsyncIterator[P]:
        # Validate now (a bad limit fails at the call, not at the first iteration).
        return self._follow(endpoint, self._list_params(endpoint, limit, filters))

    async def _follow(
        self, endpoint: ListEndpoint[P], params: dict[str, ParamValue]
    ) -> AsyncIterator[P]:
        seen: set[str] = set()
        while True:
            page = await self._page(endpoint, params)
            yield page
            cursor = page.cursor
            if cursor is None:
                return
            if cursor in seen:
                raise ParseError(
                    record=f"{endpoint.path} page",
                    field="cursor",
                    problem="repeats an earlier cursor",
                )
            seen.add(cursor)
            params = {**params, "cursor": cursor}

    async def _items(self, pages: AsyncIterator[ParsedPage[T]]) -> AsyncIterator[T]:
        async for page in pages:
            for item in page.items:
                yield item

    # -- exchange ----------------------------------------------------------------------
    async def get_exchange_status(self) -> ExchangeStatus:
        return parse_exchange_status(await self.request_json("GET", "/exchange/status", auth=False))

    # -- markets -----------------------------------------------------------------------
    async def get_markets(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[MarketFilters],
    ) -> ParsedPage[Market]:
        """One page of GET /markets (every filter of reference A4.2)."""
        return await self._get_page(MARKETS, limit, cursor, filters)

    def iter_market_pages(
        self, *, limit: int | None = None, **filters: Unpack[MarketFilters]
    ) -> AsyncIterator[ParsedPage[Market]]:
        """Every page of GET /markets, following `cursor` to the end."""
        return self._iter_pages(MARKETS, limit, filters)

    def iter_markets(
        self, *, limit: int | None = None, **filters: Unpack[MarketFilters]
    ) -> AsyncIterator[Market]:
        """Every market matching the filters, across all pages."""
        return self._items(self._iter_pages(MARKETS, limit, filters))

    async def get_market(self, ticker: str) -> Market:
        body = await self.request_json("GET", f"/markets/{_segment(ticker)}", auth=False)
        return parse_market(object_field(body, "market", record="market"))

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> Orderbook:
        """Order book (bids per side, best last); signed although public in practice (A2)."""
        if depth is not None and not 0 <= depth <= 100:
            raise ValueError("orderbook depth must be between 0 and 100")
        body = await self.request_json(
            "GET", f"/markets/{_segment(ticker)}/orderbook", {"depth": depth}
        )
        return parse_orderbook(body, ticker)

    async def get_trades(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[TradeFilters],
    ) -> ParsedPage[Trade]:
        return await self._get_page(TRADES, limit, cursor, filters)

    def iter_trades(
        self, *, limit: int | None = None, **filters: Unpack[TradeFilters]
    ) -> AsyncIterator[Trade]:
        return self._items(self._iter_pages(TRADES, limit, filters))

    # -- events and series -------------------------------------------------------------
    async def get_events(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[EventFilters],
    ) -> ParsedPage[Event]:
        return await self._get_page(EVENTS, limit, cursor, filters)

    def iter_events(
        self, *, limit: int | None = None, **filters: Unpack[EventFilters]
    ) -> AsyncIterator[Event]:
        return self._items(self._iter_pages(EVENTS, limit, filters))

    async def get_event(self, event_ticker: str, *, with_nested_markets: bool = False) -> Event:
        body = await self.request_json(
            "GET",
            f"/events/{_segment(event_ticker)}",
            {"with_nested_markets": with_nested_markets or None},
            auth=False,
        )
        event = parse_event(object_field(body, "event", record="event"))
        top_level = body.get("markets") if isinstance(body, Mapping) else None
        if not event.markets and top_level:  # deprecated top-level `markets` (A4.7)
            markets, errors = parse_list(top_level, parse_market, record="Market")
            self._record_errors(errors)
            event = Event(**{**_fields(event), "markets": markets})
        return event

    async def get_series(self, series_ticker: str) -> Series:
        body = await self.request_json("GET", f"/series/{_segment(series_ticker)}", auth=False)
        return parse_series(object_field(body, "series", record="series"))

    async def list_series(
        self,
        *,
        category: str | None = None,
        tags: Sequence[str] | None = None,
        include_volume: bool = False,
    ) -> ParsedPage[Series]:
        """GET /series (no cursor documented)."""
        params: dict[str, ParamValue] = {
            "category": category,
            "tags": tags,
            "include_volume": include_volume or None,
        }
        return await self._page(SERIES, params)

    # -- portfolio ---------------------------------------------------------------------
    async def get_balance(self) -> Balance:
        """Available balance in DOLLARS (the API's `balance` is cents)."""
        return parse_balance(await self.request_json("GET", "/portfolio/balance"))

    async def get_positions(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[PositionFilters],
    ) -> PositionsPage:
        """One page of positions: `market_positions` AND `event_positions`."""
        return await self._get_page(POSITIONS, limit, cursor, filters)

    def iter_position_pages(
        self, *, limit: int | None = None, **filters: Unpack[PositionFilters]
    ) -> AsyncIterator[PositionsPage]:
        return self._iter_pages(POSITIONS, limit, filters)

    async def get_fills(
        self, *, limit: int | None = None, cursor: str | None = None, **filters: Unpack[FillFilters]
    ) -> ParsedPage[Fill]:
        return await self._get_page(FILLS, limit, cursor, filters)

    def iter_fill_pages(
        self, *, limit: int | None = None, **filters: Unpack[FillFilters]
    ) -> AsyncIterator[ParsedPage[Fill]]:
        return self._iter_pages(FILLS, limit, filters)

    def iter_fills(
        self, *, limit: int | None = None, **filters: Unpack[FillFilters]
    ) -> AsyncIterator[Fill]:
        return self._items(self._iter_pages(FILLS, limit, filters))

    async def get_settlements(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[SettlementFilters],
    ) -> ParsedPage[Settlement]:
        return await self._get_page(SETTLEMENTS, limit, cursor, filters)

    def iter_settlement_pages(
        self, *, limit: int | None = None, **filters: Unpack[SettlementFilters]
    ) -> AsyncIterator[ParsedPage[Settlement]]:
        return self._iter_pages(SETTLEMENTS, limit, filters)

    def iter_settlements(
        self, *, limit: int | None = None, **filters: Unpack[SettlementFilters]
    ) -> AsyncIterator[Settlement]:
        return self._items(self._iter_pages(SETTLEMENTS, limit, filters))

    # -- orders (read only) ------------------------------------------------------------
    async def get_orders(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[OrderFilters],
    ) -> ParsedPage[Order]:
        return await self._get_page(ORDERS, limit, cursor, filters)

    def iter_orders(
        self, *, limit: int | None = None, **filters: Unpack[OrderFilters]
    ) -> AsyncIterator[Order]:
        return self._items(self._iter_pages(ORDERS, limit, filters))

    async def get_order(self, order_id: str) -> Order:
        body = await self.request_json("GET", f"/portfolio/orders/{_segment(order_id)}")
        return parse_order(object_field(body, "order", record="order"))

    # -- history before the cutoff -----------------------------------------------------
    async def get_historical_cutoff(self) -> HistoricalCutoff:
        """Where live data ends: older fills/orders are only under /historical (A4.15)."""
        body = await self.request_json("GET", "/historical/cutoff", auth=False)
        return parse_historical_cutoff(body)

    async def get_historical_fills(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[HistoricalFilters],
    ) -> ParsedPage[Fill]:
        return await self._get_page(HISTORICAL_FILLS, limit, cursor, filters)

    def iter_historical_fills(
        self, *, limit: int | None = None, **filters: Unpack[HistoricalFilters]
    ) -> AsyncIterator[Fill]:
        return self._items(self._iter_pages(HISTORICAL_FILLS, limit, filters))

    async def get_historical_orders(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[HistoricalFilters],
    ) -> ParsedPage[Order]:
        return await self._get_page(HISTORICAL_ORDERS, limit, cursor, filters)

    def iter_historical_orders(
        self, *, limit: int | None = None, **filters: Unpack[HistoricalFilters]
    ) -> AsyncIterator[Order]:
        return self._items(self._iter_pages(HISTORICAL_ORDERS, limit, filters))

    def iter_all_fill_pages(
        self,
        *,
        limit: int | None = None,
        ticker: str | None = None,
        min_ts: dt.datetime | None = None,
    ) -> AsyncIterator[ParsedPage[Fill]]:
        """Every fill, live and historical: GET /portfolio/fills, then GET /historical/fills
        unless `min_ts` is at or after the cutoff. Each fill once, even if the cutoff moves
        while we read (live first, so a fill moving to history is seen in one or both)."""
        return self._live_then_history(
            self._iter_pages(FILLS, limit, {"ticker": ticker, "min_ts": min_ts}),
            HISTORICAL_FILLS,
            filters={"ticker": ticker},
            limit=limit,
            min_ts=min_ts,
            boundary=lambda cutoff: cutoff.trades_created_ts,
            identity=lambda fill: fill.fill_id,
        )

    def iter_all_order_pages(
        self,
        *,
        limit: int | None = None,
        ticker: str | None = None,
        min_ts: dt.datetime | None = None,
    ) -> AsyncIterator[ParsedPage[Order]]:
        """Every order, live and historical (finished orders older than the cutoff)."""
        return self._live_then_history(
            self._iter_pages(ORDERS, limit, {"ticker": ticker, "min_ts": min_ts}),
            HISTORICAL_ORDERS,
            filters={"ticker": ticker},
            limit=limit,
            min_ts=min_ts,
            boundary=lambda cutoff: cutoff.orders_updated_ts,
            identity=lambda order: order.order_id,
        )

    async def _live_then_history(
        self,
        live: AsyncIterator[ParsedPage[T]],
        historical: ListEndpoint[ParsedPage[T]],
        *,
        filters: Mapping[str, Any],
        limit: int | None,
        min_ts: dt.datetime | None,
        boundary: Callable[[HistoricalCutoff], dt.datetime],
        identity: Callable[[T], str],
    ) -> AsyncIterator[ParsedPage[T]]:
        cutoff = boundary(await self.get_historical_cutoff())
        seen: set[str] = set()
        async for page in live:
            seen.update(identity(item) for item in page.items)
            yield page
        if min_ts is not None and min_ts >= cutoff:
            return  # nothing asked for is older than the cutoff
        limit = None if limit is None else min(limit, MAX_LIMIT[historical.path])
        async for page in self._iter_pages(historical, limit, filters):
            fresh = tuple(item for item in page.items if identity(item) not in seen)
            seen.update(identity(item) for item in fresh)
            yield ParsedPage(fresh, page.errors, page.cursor)


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in Event.__slots__}


__all__ = [
    "BASE_URL_VARIABLE",
    "MAX_LIMIT",
    "PUBLIC_BASE_URLS",
    "ClientState",
    "ClientStats",
    "KalshiClient",
    "RequestSigner",
    "kalshi_base_url",
    "translate_response",
    "translate_transport",
]
