"""The sandbox exchange over real loopback HTTP: Kalshi's routes, shapes, limits, cursors and
error bodies, and the admin endpoints (faults, keys, simulation steps).
(The sandbox is not one of the eleven modules; no module declared.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from precog.api_connectors.kalshi_auth import KalshiSigner, public_key_pem
from tests.plugins.sandbox import RunningSandbox, new_ed25519_key

API = "/trade-api/v2"


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as c:
        yield c


async def test_base_url_shape(sandbox: RunningSandbox) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert sandbox.base_url.endswith("/trade-api/v2")
    assert sandbox.env["KALSHI_API_BASE_URL"] == sandbox.base_url
    assert sandbox.private_key_path.stat().st_mode & 0o777 == 0o600
    assert sandbox.private_key_path.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")


async def test_exchange_status(client: httpx.AsyncClient, sandbox: RunningSandbox) -> None:
    body = (await client.get(f"{API}/exchange/status")).json()
    assert body["exchange_active"] is True
    assert body["trading_active"] is True
    sandbox.exchange.set_exchange_status(exchange_active=True, trading_active=False)
    assert (await client.get(f"{API}/exchange/status")).json()["trading_active"] is False


async def test_markets_pages_cover_everything_once(
    client: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    tickers: list[str] = []
    cursor = ""
    pages = 0
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/markets", params=params)
        assert response.status_code == 200
        body = response.json()
        assert len(body["markets"]) <= 7
        tickers.extend(m["ticker"] for m in body["markets"])
        cursor = body["cursor"]
        pages += 1
        if not cursor:
            break
    assert sorted(tickers) == sandbox.exchange.market_tickers()
    assert pages == -(-len(tickers) // 7)


async def test_market_shape_is_fixed_point(client: httpx.AsyncClient) -> None:
    market = (await client.get(f"{API}/markets", params={"limit": "1"})).json()["markets"][0]
    one = (await client.get(f"{API}/markets/{market['ticker']}")).json()["market"]
    assert one == market
    for field in ("yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "last_price_dollars"):
        assert isinstance(one[field], str)
        assert Decimal(one[field]) == Decimal(one[field]).quantize(Decimal("0.0001"))
    for field in ("volume_fp", "open_interest_fp", "yes_bid_size_fp"):
        assert isinstance(one[field], str)
        assert len(one[field].split(".")[1]) == 2
    assert "yes_bid" not in one  # legacy cent fields are gone in the current era
    assert one["close_time"].endswith("Z")


async def test_filters(client: httpx.AsyncClient, sandbox: RunningSandbox) -> None:
    ex = sandbox.exchange
    some = ex.market_tickers()[:3]
    got = (await client.get(f"{API}/markets", params={"tickers": ",".join(some)})).json()
    assert [m["ticker"] for m in got["markets"]] == some
    event = ex.markets[some[0]].event_ticker
    by_event = (await client.get(f"{API}/markets", params={"event_ticker": event})).json()
    assert {m["event_ticker"] for m in by_event["markets"]} == {event}
    series = ex.markets[some[0]].series_ticker
    by_series = (await client.get(f"{API}/markets", params={"series_ticker": series})).json()
    assert {m["ticker"] for m in by_series["markets"]} == {
        t for t in ex.market_tickers() if ex.markets[t].series_ticker == series
    }
    cutoff = int(ex.markets[some[0]].close_time.timestamp())
    later = await client.get(f"{API}/markets", params={"min_close_ts": cutoff, "limit": "1000"})
    assert all(
        ex.markets[m["ticker"]].close_time.timestamp() >= cutoff for m in later.json()["markets"]
    )


async def test_orderbook_trades_events_series(
    client: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    sandbox.exchange.step(20)
    ticker = sandbox.exchange.market_tickers(["active"])[0]
    book = (await client.get(f"{API}/markets/{ticker}/orderbook", params={"depth": "2"})).json()
    assert len(book["orderbook_fp"]["yes_dollars"]) <= 2
    trades = (await client.get(f"{API}/markets/trades", params={"limit": "5"})).json()
    assert len(trades["trades"]) == 5
    assert trades["cursor"]
    for t in trades["trades"]:
        assert Decimal(t["yes_price_dollars"]) + Decimal(t["no_price_dollars"]) == 1
    events = (await client.get(f"{API}/events", params={"with_nested_markets": "true"})).json()
    assert all("markets" in e for e in events["events"])
    event = (await client.get(f"{API}/events/{events['events'][0]['event_ticker']}")).json()
    assert event["event"]["event_ticker"] == events["events"][0]["event_ticker"]
    series = (await client.get(f"{API}/series/KXSIMNFL")).json()["series"]
    assert series["ticker"] == "KXSIMNFL"
    assert len((await client.get(f"{API}/series")).json()["series"]) == 5


async def test_portfolio_endpoints(client: httpx.AsyncClient, sandbox: RunningSandbox) -> None:
    for name, key in [
        ("positions", "market_positions"),
        ("fills", "fills"),
        ("settlements", "settlements"),
        ("orders", "orders"),
    ]:
        path = f"{API}/portfolio/{name}"
        response = await client.get(path, headers=sandbox.signer.headers("GET", path))
        assert response.status_code == 200, (name, response.text)
        assert isinstance(response.json()[key], list)
        assert "cursor" in response.json()
    order_id = sandbox.exchange.orders[0].order_id
    path = f"{API}/portfolio/orders/{order_id}"
    one = await client.get(path, headers=sandbox.signer.headers("GET", path))
    assert one.json()["order"]["order_id"] == order_id


async def test_error_bodies(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{API}/markets/NOT-A-MARKET")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = await client.get(f"{API}/markets", params={"limit": "5000"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_parameters"
    no_route = await client.get(f"{API}/nothing/here")
    assert no_route.status_code == 404
    slash = await client.get(f"{API}/markets/", params={"limit": "2"})
    assert slash.status_code == 301
    assert slash.headers["location"] == f"{API}/markets?limit=2"


async def test_admin_faults_endpoint(client: httpx.AsyncClient, sandbox: RunningSandbox) -> None:
    set_ = await client.post("/_admin/faults", json={"rate_limit_burst": 2})
    assert set_.status_code == 200
    assert set_.json()["rate_limit_burst"] == 2
    limited = [await client.get(f"{API}/exchange/status") for _ in range(3)]
    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].json() == {"error": "too many requests"}
    assert "retry-after" not in limited[0].headers
    refused = await client.post("/_admin/faults", json={"error_status": 200})
    assert refused.status_code == 400
    await client.post("/_admin/faults", json={"error_rates": {"*": 1.0}})
    assert (await client.get(f"{API}/markets")).status_code == 500
    cleared = await client.delete("/_admin/faults")
    assert cleared.json()["error_rates"] == {}
    assert (await client.get(f"{API}/markets")).status_code == 200
    stats = (await client.get("/_admin/stats")).json()
    assert stats["faults"]["rate_limited"] == 2
    assert stats["faults"]["server_error"] == 1
    assert [r.status for r in sandbox.server.log][:3] == [429, 429, 200]


async def test_admin_keys_and_step(client: httpx.AsyncClient, sandbox: RunningSandbox) -> None:
    key = new_ed25519_key()
    created = await client.post("/_admin/keys", json={"public_key": public_key_pem(key)})
    assert created.status_code == 201
    key_id = created.json()["key_id"]
    path = f"{API}/portfolio/balance"
    signer = KalshiSigner(key_id, key)
    assert (await client.get(path, headers=signer.headers("GET", path))).status_code == 200
    assert (await client.delete(f"/_admin/keys/{key_id}")).status_code == 200
    assert (await client.get(path, headers=signer.headers("GET", path))).status_code == 401
    assert (await client.post("/_admin/keys", json={"public_key": "junk"})).status_code == 400
    steps_before = sandbox.exchange.steps
    stepped = await client.post("/_admin/step", json={"steps": 3, "advance_seconds": 60})
    assert stepped.json()["steps"] == steps_before + 3


async def test_admin_moves_the_historical_cutoff(
    client: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    moved = await client.post("/_admin/historical_cutoff", json={"cutoff": "2099-01-01T00:00:00Z"})
    assert moved.status_code == 200
    assert moved.json()["trades_created_ts"] == "2099-01-01T00:00:00Z"
    cutoff = (await client.get(f"{API}/historical/cutoff")).json()
    assert cutoff == moved.json()
    assert sandbox.exchange.list_fills({})["fills"] == []  # everything is history now
    naive = await client.post("/_admin/historical_cutoff", json={"cutoff": "2099-01-01T00:00"})
    assert naive.status_code == 400
    reset = await client.post("/_admin/historical_cutoff", json={"cutoff": None})
    assert reset.json()["trades_created_ts"] < "2099"
    assert sandbox.exchange.list_fills({})["fills"]
