"""KalshiClient over httpx.MockTransport: request paths/params, signing, error translation,
retry counts per status, pagination, cents -> dollars."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

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
from precog.api_connectors.kalshi_client import ClientState, KalshiClient, kalshi_base_url
from precog.api_connectors.rate_limiter import AccountLimiter, LimiterRegistry, Tier
from precog.config.environment import KalshiMode
from precog.errors import ServiceUnavailableError
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy

pytestmark = pytest.mark.module("kalshi_client")

BASE = "http://exchange.test/trade-api/v2"


def market_json(ticker: str = "KXT-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": ticker,
        "event_ticker": "KXT",
        "market_type": "binary",
        "status": "active",
        "yes_bid_dollars": "0.4200",
        "yes_ask_dollars": "0.4400",
        "no_bid_dollars": "0.5600",
        "no_ask_dollars": "0.5800",
        "last_price_dollars": "0.4300",
        "volume_fp": "12500.00",
        "open_time": "2026-10-01T14:00:00Z",
        "close_time": "2026-10-05T20:00:00Z",
        "result": "",
    }
    body.update(extra)
    return body


class FakeSigner:
    key_id = "key-1"

    def __init__(self) -> None:
        self.signed: list[tuple[str, str]] = []

    def headers(self, method: str, path: str) -> dict[str, str]:
        self.signed.append((method, path))
        return {
            "KALSHI-ACCESS-KEY": self.key_id,
            "KALSHI-ACCESS-TIMESTAMP": "1",
            "KALSHI-ACCESS-SIGNATURE": f"sig:{method}{path}",
        }


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, *, retries: int = 3, signer: FakeSigner | None = None
) -> tuple[KalshiClient, FakeClock, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    clock = FakeClock()
    client = KalshiClient(
        BASE,
        signer=signer or FakeSigner(),
        limiter=(limiter := AccountLimiter(Tier.PRESTIGE, clock=clock)),
        public_limiter=limiter,
        retry_policy=RetryPolicy(max_retries=retries, rng=random.Random(1)),
        clock=clock,
        transport=httpx.MockTransport(record),
    )
    return client, clock, seen


def ok(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


# ------------------------------------------------------------------ requests
async def test_markets_list_sends_every_filter_and_parses() -> None:
    client, _, seen = make_client(lambda _r: ok({"markets": [market_json()], "cursor": ""}))
    async with client:
        page = await client.get_markets(
            limit=1000,
            cursor="abc",
            event_ticker="KXT",
            series_ticker="KX",
            tickers=["A", "B"],
            status="open",
            mve_filter="exclude",
            min_created_ts=1,
            max_created_ts=2,
            min_close_ts=3,
            max_close_ts=4,
            min_settled_ts=5,
            max_settled_ts=6,
            min_updated_ts=7,
        )
    request = seen[0]
    assert request.url.path == "/trade-api/v2/markets"
    assert dict(request.url.params) == {
        "limit": "1000",
        "cursor": "abc",
        "event_ticker": "KXT",
        "series_ticker": "KX",
        "tickers": "A,B",
        "status": "open",
        "mve_filter": "exclude",
        "min_created_ts": "1",
        "max_created_ts": "2",
        "min_close_ts": "3",
        "max_close_ts": "4",
        "min_settled_ts": "5",
        "max_settled_ts": "6",
        "min_updated_ts": "7",
    }
    assert page.cursor is None
    assert page.items[0].yes_bid == Decimal("0.4200")


async def test_datetime_filters_are_sent_as_unix_seconds() -> None:
    client, _, seen = make_client(lambda _r: ok({"trades": [], "cursor": ""}))
    closes = dt.datetime(2026, 10, 5, 22, 0, 30, 999_000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    async with client:
        await client.get_trades(min_ts=closes, max_ts=1_791_000_000)
        with pytest.raises(ValueError, match="timezone-aware"):
            await client.get_trades(min_ts=dt.datetime(2026, 10, 5, 20))
    # 2026-10-05T20:00:30.999Z: whole seconds (Kalshi's *_ts filters), not milliseconds.
    assert dict(seen[0].url.params) == {"min_ts": "1791230430", "max_ts": "1791000000"}
    assert len(seen) == 1  # the naive datetime never reached the wire


@pytest.mark.parametrize(
    ("call", "path", "params", "signed"),
    [
        (lambda c: c.get_exchange_status(), "/exchange/status", {}, False),
        (lambda c: c.get_market("KXT-1"), "/markets/KXT-1", {}, False),
        (
            lambda c: c.get_orderbook("KXT-1", depth=5),
            "/markets/KXT-1/orderbook",
            {"depth": "5"},
            True,
        ),
        (
            lambda c: c.get_trades(limit=10, ticker="KXT-1", min_ts=5),
            "/markets/trades",
            {"limit": "10", "ticker": "KXT-1", "min_ts": "5"},
            False,
        ),
        (
            lambda c: c.get_events(limit=200, with_nested_markets=True, series_ticker="KX"),
            "/events",
            {"limit": "200", "with_nested_markets": "true", "series_ticker": "KX"},
            False,
        ),
        (
            lambda c: c.get_event("KXT", with_nested_markets=True),
            "/events/KXT",
            {"with_nested_markets": "true"},
            False,
        ),
        (lambda c: c.get_series("KX"), "/series/KX", {}, False),
        (lambda c: c.list_series(category="Sports"), "/series", {"category": "Sports"}, False),
        (lambda c: c.get_balance(), "/portfolio/balance", {}, True),
        (
            lambda c: c.get_positions(limit=1000, settlement_status="all"),
            "/portfolio/positions",
            {"limit": "1000", "settlement_status": "all"},
            True,
        ),
        (lambda c: c.get_fills(order_id="o1"), "/portfolio/fills", {"order_id": "o1"}, True),
        (lambda c: c.get_settlements(limit=5), "/portfolio/settlements", {"limit": "5"}, True),
        (
            lambda c: c.get_orders(status="resting"),
            "/portfolio/orders",
            {"status": "resting"},
            True,
        ),
        (lambda c: c.get_order("o 1"), "/portfolio/orders/o%201", {}, True),
    ],
)
async def test_endpoint_paths_params_and_signing(
    call: Callable[[KalshiClient], Any], path: str, params: dict[str, str], signed: bool
) -> None:
    bodies = {
        "/exchange/status": {"exchange_active": True, "trading_active": False},
        "/markets/KXT-1": {"market": market_json()},
        "/markets/KXT-1/orderbook": {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}},
        "/events/KXT": {"event": {"event_ticker": "KXT", "series_ticker": "KX", "title": "t"}},
        "/series/KX": {"series": {"ticker": "KX", "title": "t"}},
        "/portfolio/balance": {"balance": 10050},
        "/portfolio/orders/o%201": {
            "order": {
                "order_id": "o 1",
                "ticker": "KXT-1",
                "status": "resting",
                "yes_price_dollars": "0.4000",
                "no_price_dollars": "0.6000",
                "fill_count_fp": "0.00",
                "remaining_count_fp": "3.00",
            }
        },
    }
    signer = FakeSigner()
    client, _, seen = make_client(
        lambda r: ok(
            bodies.get(r.url.raw_path.decode().split("?")[0].removeprefix("/trade-api/v2"), {})
        ),
        signer=signer,
    )
    async with client:
        await call(client)
    request = seen[0]
    assert request.url.raw_path.decode().split("?")[0] == "/trade-api/v2" + path
    assert dict(request.url.params) == params
    assert ("KALSHI-ACCESS-SIGNATURE" in request.headers) is signed
    if signed:
        # the signed path is the full path from the host root, without the query string
        assert signer.signed == [("GET", "/trade-api/v2" + path)]


async def test_an_identifier_is_always_one_path_segment() -> None:
    client, _, seen = make_client(lambda _r: ok({"market": market_json()}))
    async with client:
        await client.get_market("KXT/../portfolio/balance")
        with pytest.raises(ValueError, match="must not be empty"):
            await client.get_market("")
    # A '/' in a ticker is escaped: it can never select another endpoint.
    assert seen[0].url.raw_path.decode() == "/trade-api/v2/markets/KXT%2F..%2Fportfolio%2Fbalance"
    assert len(seen) == 1


async def test_balance_cents_become_dollars() -> None:
    client, _, _ = make_client(lambda _r: ok({"balance": 10050, "portfolio_value": 2340}))
    async with client:
        balance = await client.get_balance()
    assert balance.balance == Decimal("100.50")
    assert balance.portfolio_value == Decimal("23.40")


async def test_balance_prefers_exact_dollar_field() -> None:
    body = {"balance": 10050, "balance_dollars": "100.5012", "updated_ts": 1790000000}
    client, _, _ = make_client(lambda _r: ok(body))
    async with client:
        balance = await client.get_balance()
    assert balance.balance == Decimal("100.5012")
    assert balance.updated_ts is not None
    assert balance.updated_ts.tzinfo is not None


async def test_pagination_follows_cursor_to_the_end() -> None:
    pages = {
        None: {"markets": [market_json("A")], "cursor": "c1"},
        "c1": {"markets": [market_json("B")], "cursor": "c2"},
        "c2": {"markets": [market_json("C")], "cursor": None},
    }
    client, _, seen = make_client(lambda r: ok(pages[r.url.params.get("cursor")]))
    async with client:
        tickers = [m.ticker async for m in client.iter_markets(limit=1, status="open")]
    assert tickers == ["A", "B", "C"]
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1", "c2"]
    assert all(r.url.params["status"] == "open" for r in seen)


async def test_pagination_refuses_a_looping_cursor() -> None:
    client, _, _ = make_client(lambda _r: ok({"markets": [market_json()], "cursor": "same"}))
    async with client:
        with pytest.raises(ParseError, match="cursor"):
            _ = [m async for m in client.iter_markets()]


async def test_bad_record_is_reported_and_rest_kept() -> None:
    bad = market_json("BAD", yes_bid_dollars="0.42.1")
    client, _, _ = make_client(
        lambda _r: ok({"markets": [market_json("A"), bad, market_json("C")], "cursor": ""})
    )
    async with client:
        page = await client.get_markets()
    assert [m.ticker for m in page.items] == ["A", "C"]
    assert len(page.errors) == 1
    assert page.errors[0].field == "yes_bid_dollars"
    assert page.errors[0].index == 1
    assert client.stats.parse_errors == 1


async def test_positions_return_market_and_event_positions() -> None:
    body = {
        "cursor": "",
        "market_positions": [
            {
                "ticker": "KXT-1",
                "position_fp": "-10.00",
                "total_traded_dollars": "4.3000",
                "market_exposure_dollars": "4.3000",
                "realized_pnl_dollars": "0.0000",
                "fees_paid_dollars": "0.0700",
                "last_updated_ts": "2026-10-02T15:04:05Z",
            }
        ],
        "event_positions": [
            {
                "event_ticker": "KXT",
                "total_cost": 430,
                "total_cost_shares": 10,
                "event_exposure": 430,
                "realized_pnl": 0,
                "fees_paid": 7,
            }
        ],
    }
    client, _, _ = make_client(lambda _r: ok(body))
    async with client:
        page = await client.get_positions()
    assert page.market_positions[0].position == Decimal("-10.00")
    assert page.event_positions[0].total_cost == Decimal("4.30")  # legacy cents
    assert page.event_positions[0].fees_paid == Decimal("0.07")


# ------------------------------------------------------------------ errors and retries
def status_response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> Handler:
    payload = body if body is not None else {"error": {"code": "x", "message": "m"}}
    return lambda _r: httpx.Response(status, json=payload, headers=headers)


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [
        (400, RejectedError, 1),
        (403, AuthError, 1),
        (404, NotFoundError, 1),
        (409, RejectedError, 1),
        (429, RateLimitedError, 4),
        (500, ServerError, 4),
        (503, ServerError, 4),
        (504, ServerError, 4),
    ],
)
async def test_error_translation_and_retry_counts(
    status: int, error: type[KalshiError], attempts: int
) -> None:
    client, _, seen = make_client(status_response(status), retries=3)
    async with client:
        with pytest.raises(error) as caught:
            await client.get_markets()
    assert type(caught.value) is error
    assert len(seen) == attempts
    assert caught.value.status == status
    assert client.stats.retries == attempts - 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {
                "error": {
                    "code": "authentication_error",
                    "message": "authentication_error",
                    "details": "rpc error: desc = INCORRECT_API_KEY_SIGNATURE",
                }
            },
            "bad signature",
        ),
        ({"error": {"code": "header_timestamp_expired", "message": "x"}}, "expired timestamp"),
        (
            {"error": {"code": "authentication_error", "details": "desc = NOT_FOUND"}},
            "unknown key",
        ),
    ],
)
async def test_401_is_auth_error_with_reason_and_never_retried(body: Any, reason: str) -> None:
    client, _, seen = make_client(status_response(401, body))
    async with client:
        with pytest.raises(AuthError) as caught:
            await client.get_balance()
    assert caught.value.reason == reason
    assert reason in str(caught.value)
    assert len(seen) == 1
    assert caught.value.exit_code == 1


async def test_retry_then_success_recovers() -> None:
    responses = iter([httpx.Response(502), httpx.Response(429), ok({"balance": 5})])
    client, clock, seen = make_client(lambda _r: next(responses))
    async with client:
        balance = await client.get_balance()
    assert balance.balance == Decimal("0.05")
    assert len(seen) == 3
    assert len([s for s in clock.sleeps if s > 0]) == 2


async def test_retry_after_is_honoured() -> None:
    responses = iter([httpx.Response(429, headers={"Retry-After": "7"}), ok({"balance": 5})])
    client, clock, _ = make_client(lambda _r: next(responses))
    async with client:
        await client.get_balance()
    assert max(clock.sleeps) >= 7.0


async def test_429_flat_string_body_parsed() -> None:
    client, _, _ = make_client(status_response(429, {"error": "too many requests"}), retries=0)
    async with client:
        with pytest.raises(RateLimitedError, match="rate limit"):
            await client.get_markets()


async def test_connection_errors_and_timeouts_are_retried_transport_errors() -> None:
    calls = 0

    def fail(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise httpx.ConnectError("refused", request=request)
        raise httpx.ReadTimeout("slow", request=request)

    client, _, _ = make_client(fail, retries=2)
    async with client:
        with pytest.raises(TransportError) as caught:
            await client.get_exchange_status()
    assert calls == 3
    assert isinstance(caught.value, ServiceUnavailableError)
    assert caught.value.exit_code == 4
    assert caught.value.attempts == 3


async def test_non_json_success_body_is_retried_then_invalid_body_error() -> None:
    client, _, seen = make_client(lambda _r: httpx.Response(200, content=b'{"markets": [{"tick'))
    async with client:
        with pytest.raises(InvalidBodyError):
            await client.get_markets()
    assert len(seen) == 4


async def test_write_timeout_or_5xx_is_unknown_outcome_not_retried() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client, _, seen = make_client(timeout)
    async with client:
        with pytest.raises(OutcomeUnknownError):
            await client.request_json("POST", "/portfolio/events/orders")
    assert len(seen) == 1

    client, _, seen = make_client(status_response(500))
    async with client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.request_json("DELETE", "/portfolio/events/orders/x")
    assert not isinstance(caught.value, RejectedError)
    assert len(seen) == 1


async def test_client_lifecycle_states() -> None:
    client, _, _ = make_client(lambda _r: ok({"exchange_active": True, "trading_active": True}))
    assert client.state is ClientState.NEW
    with pytest.raises(ClientClosedError):
        await client.get_exchange_status()
    async with client:
        assert client.state is ClientState.OPEN
        assert (await client.get_exchange_status()).exchange_active is True
    assert client.state is ClientState.CLOSED
    with pytest.raises(ClientClosedError):
        await client.open()


async def test_limit_out_of_range_is_refused_before_sending() -> None:
    client, _, seen = make_client(lambda _r: ok({}))
    async with client:
        with pytest.raises(ValueError, match="1000"):
            await client.get_markets(limit=1001)
        with pytest.raises(ValueError, match="200"):
            await client.get_events(limit=201)
    assert seen == []


def test_base_url_by_mode_and_override() -> None:
    assert (
        kalshi_base_url(KalshiMode.DEMO, {}) == "https://external-api.demo.kalshi.co/trade-api/v2"
    )
    assert kalshi_base_url(KalshiMode.LIVE, {}) == "https://external-api.kalshi.com/trade-api/v2"
    assert kalshi_base_url(KalshiMode.SANDBOX, {}) is None
    override = {"KALSHI_API_BASE_URL": "http://127.0.0.1:9/trade-api/v2/"}
    assert kalshi_base_url(KalshiMode.LIVE, override) == "http://127.0.0.1:9/trade-api/v2"


def test_two_clients_of_one_account_share_one_limiter() -> None:
    registry = LimiterRegistry()
    transport = httpx.MockTransport(lambda _r: ok({}))
    a = KalshiClient(BASE, signer=FakeSigner(), registry=registry, transport=transport)
    b = KalshiClient(BASE, signer=FakeSigner(), registry=registry, transport=transport)
    assert a.limiter is b.limiter
    assert a.public_limiter is b.public_limiter  # one public bucket per exchange host
    assert len(registry) == 2


async def test_every_request_and_retry_takes_tokens() -> None:
    client, clock, _ = make_client(status_response(500), retries=2)
    limiter = AccountLimiter(Tier.BASIC, clock=clock)
    client.public_limiter = limiter  # GET /markets is public (unsigned)
    async with client:
        with pytest.raises(ServerError):
            await client.get_markets()
    assert limiter.read.acquired_total == 30  # 3 attempts x 10 tokens


def test_error_bodies_in_every_shape_give_a_message() -> None:
    from precog.api_connectors.kalshi_client import translate_response

    request = httpx.Request("GET", BASE + "/x")
    shapes = [
        ({"code": "invalid_content_type", "message": "bad type"}, "bad type"),
        ({"msg": "plain message"}, "plain message"),
        ({"error": {"code": "market_closed", "message": "closed", "details": "d"}}, "closed; d"),
    ]
    for body, text in shapes:
        error = translate_response(httpx.Response(409, json=body, request=request), "GET", "/x")
        assert isinstance(error, RejectedError)
        assert text in str(error)
    raw = translate_response(
        httpx.Response(400, content=b"<html>oops", request=request), "GET", "/x"
    )
    assert "oops" in str(raw)


@pytest.mark.usefixtures("isolated_logging")
async def test_requests_and_responses_logged_at_debug_with_headers_masked(tmp_path: Path) -> None:
    from precog.utils.logger import configure_logging
    from tests.plugins.logging_state import read_json_lines

    configure_logging("DEBUG", log_dir=tmp_path, console=False)
    client, _, _ = make_client(lambda _r: ok({"balance": 100}))
    async with client:
        await client.get_balance()
    records = read_json_lines(tmp_path)
    requests = [r for r in records if r.get("event", "").startswith("kalshi request")]
    responses = [r for r in records if r.get("event", "").startswith("kalshi response")]
    assert len(requests) == 1
    assert len(responses) == 1
    assert requests[0]["path"] == "/trade-api/v2/portfolio/balance"
    assert requests[0]["headers"]["KALSHI-ACCESS-SIGNATURE"] == "***"
    assert requests[0]["headers"]["KALSHI-ACCESS-KEY"] == "***"
    assert responses[0]["status"] == 200
    assert "sig:GET" not in (tmp_path / "precog.jsonl").read_text()


async def test_unreadable_body_of_a_write_is_unknown_outcome_not_retried() -> None:
    client, _, seen = make_client(lambda _r: httpx.Response(201, content=b"{trunc"))
    async with client:
        with pytest.raises(OutcomeUnknownError):
            await client.request_json("POST", "/portfolio/events/orders")
    assert len(seen) == 1


async def test_write_connect_error_was_never_sent_so_it_is_retried() -> None:
    calls = 0

    def refuse_then_accept(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return ok({"order_id": "o1"}, status=201)

    client, _, _ = make_client(refuse_then_accept)
    async with client:
        body = await client.request_json("POST", "/portfolio/events/orders")
    assert body == {"order_id": "o1"}
    assert calls == 2


async def test_write_rate_limited_was_not_processed_so_it_is_retried() -> None:
    responses = iter([httpx.Response(429, json={"error": "too many requests"}),
                      ok({"order_id": "o1"}, status=201)])  # fmt: skip
    client, _, seen = make_client(lambda _r: next(responses))
    async with client:
        body = await client.request_json("POST", "/portfolio/events/orders")
    assert body == {"order_id": "o1"}
    assert [r.method for r in seen] == ["POST", "POST"]
    assert client.stats.retries == 1


async def test_get_event_falls_back_to_deprecated_top_level_markets() -> None:
    body = {
        "event": {"event_ticker": "KXT", "series_ticker": "KX", "title": "t"},
        "markets": [market_json("KXT-1"), market_json("KXT-2", yes_ask_dollars="2")],
    }
    client, _, _ = make_client(lambda _r: ok(body))
    async with client:
        event = await client.get_event("KXT", with_nested_markets=True)
    assert [m.ticker for m in event.markets] == ["KXT-1"]  # the malformed one is reported
    assert client.stats.parse_errors == 1
