"""KalshiWebSocket against the sandbox over a real loopback socket: the local books from
snapshot + deltas equal the sandbox's books, the ticker channel says what REST serves, a
subscription is made, changed and dropped on both sides, and errors come back numbered."""

from __future__ import annotations

from decimal import Decimal

import pytest

from precog.api_connectors.kalshi_auth import KalshiSigner
from precog.api_connectors.kalshi_client import KalshiClient
from precog.api_connectors.kalshi_stream_models import (
    BookUpdate,
    FillEvent,
    LifecycleEvent,
    StreamEvent,
    TickerUpdate,
    TradeEvent,
    error_fields,
)
from precog.api_connectors.rate_limiter import AccountLimiter, Tier
from precog.config.environment import KalshiMode
from precog.schedulers.kalshi_websocket import (
    KalshiWebSocket,
    StreamCommandError,
    StreamState,
    kalshi_ws_url,
)
from precog.utils.retry import RetryPolicy
from tests.plugins.kalshi_stream import active_tickers, book_mismatches, ws_client
from tests.plugins.sandbox import RunningSandbox, new_rsa_key
from tests.plugins.waiting import eventually_async

pytestmark = pytest.mark.module("kalshi_websocket")

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)


async def test_books_from_snapshot_and_deltas_equal_the_sandbox(sandbox: RunningSandbox) -> None:
    tickers = active_tickers(sandbox.exchange, 8)
    latest: dict[str, TickerUpdate] = {}
    tops: list[BookUpdate] = []

    def collect(event: StreamEvent) -> None:
        if isinstance(event, TickerUpdate):
            latest[event.market_ticker] = event
        elif isinstance(event, BookUpdate):
            tops.append(event)

    async with ws_client(sandbox) as ws:
        ws.add_callback(collect)
        await ws.wait_connected()
        sub = await ws.subscribe(["orderbook_delta", "ticker"], tickers, initial_tickers=True)
        assert set(sub.sids) == {"orderbook_delta", "ticker"}
        # The current values come at once, before anything moves.
        await eventually_async(lambda: set(latest) == set(tickers), what="initial tickers")
        assert all(latest[t].yes_bid == sandbox.exchange.markets[t].yes_bid for t in tickers)
        for _ in range(40):
            sandbox.exchange.step()
        await eventually_async(
            lambda: not book_mismatches(ws, sandbox.exchange, tickers), what="books equal"
        )
        assert ws.stats.gaps == 0
        assert ws.stats.decode_errors == 0
        assert any(not t.snapshot for t in tops), "deltas were applied"
        # The ticker channel and REST agree at the same instant (nothing steps now).
        await eventually_async(lambda: set(latest) == set(tickers), what="a ticker per market")
        async with KalshiClient(
            sandbox.base_url, signer=sandbox.signer, limiter=AccountLimiter(Tier.BASIC)
        ) as rest:
            for ticker in tickers:
                market = await rest.get_market(ticker)
                update = latest[ticker]
                assert (update.yes_bid, update.yes_ask) == (market.yes_bid, market.yes_ask)
                assert update.no_bid == market.no_bid
                assert update.last_price == market.last_price
                assert update.volume == market.volume
                book = ws.book(ticker)
                assert book is not None
                top = book.top(snapshot=False, venue_time=None, received_at=update.received_at)
                assert top.yes_bid == market.yes_bid
                assert top.yes_ask == market.yes_ask  # 1 - best NO bid


async def test_subscription_made_changed_and_dropped(sandbox: RunningSandbox) -> None:
    a, b, c, d = active_tickers(sandbox.exchange, 4)
    hub = sandbox.server.stream
    async with ws_client(sandbox) as ws:
        await ws.wait_connected()
        sub = await ws.subscribe(["orderbook_delta"], [a, b])
        sid = sub.sids["orderbook_delta"]
        assert [s["market_tickers"] for s in hub.subscriptions()] == [[a, b]]
        assert await ws.list_subscriptions() == [{"channel": "orderbook_delta", "sid": sid}]
        await eventually_async(lambda: not book_mismatches(ws, sandbox.exchange, [a, b]))

        await ws.update_subscription(sub, add_markets=[c, d], remove_markets=[a])
        assert [s["market_tickers"] for s in hub.subscriptions()] == [sorted([b, c, d])]
        assert ws.book(a) is None
        sandbox.exchange.step(5)
        await eventually_async(lambda: not book_mismatches(ws, sandbox.exchange, [b, c, d]))
        assert ws.stats.gaps == 0  # ok replies and new snapshots consumed seq numbers in order

        await ws.unsubscribe(sub)
        assert hub.subscriptions() == []
        assert ws.books == {}
        messages = ws.stats.messages
        sandbox.exchange.step(5)
        assert await ws.list_subscriptions() == []  # a round trip: everything before it arrived
        assert ws.stats.messages == messages
        assert ws.state is StreamState.CONNECTED


async def test_trade_lifecycle_and_fill_channels(sandbox: RunningSandbox) -> None:
    events: list[StreamEvent] = []
    async with ws_client(sandbox) as ws:
        ws.add_callback(events.append)
        await ws.wait_connected()
        await ws.subscribe(["trade", "fill", "market_lifecycle_v2"])
        trades_before = len(sandbox.exchange.trades)
        fills_before = len(sandbox.exchange.fills)
        sandbox.exchange.step(30)
        target = active_tickers(sandbox.exchange, 1)[0]
        sandbox.exchange.settle_market(target)
        expected_trades = [t.trade_id for t in sandbox.exchange.trades[trades_before:]]
        expected_fills = [f.fill_id for f in sandbox.exchange.fills[fills_before:]]
        assert expected_trades
        assert expected_fills

        def lifecycle() -> list[str]:
            return [
                e.event_type
                for e in events
                if isinstance(e, LifecycleEvent) and e.market_ticker == target
            ]

        await eventually_async(lambda: "settled" in lifecycle(), what="settled event")
        assert lifecycle()[-2:] == ["determined", "settled"]
        determined = next(
            e for e in events if isinstance(e, LifecycleEvent) and e.event_type == "determined"
        )
        assert determined.settlement_value in (Decimal(0), Decimal(1))
        assert determined.result == sandbox.exchange.markets[target].result
        trades = [e for e in events if isinstance(e, TradeEvent)]
        assert [t.trade_id for t in trades] == expected_trades
        assert all(t.yes_price + t.no_price == 1 for t in trades)
        fills = [e for e in events if isinstance(e, FillEvent)]
        assert [f.trade_id for f in fills] == expected_fills


async def test_errors_are_numbered_and_bad_keys_refused(sandbox: RunningSandbox) -> None:
    async with ws_client(sandbox) as ws:
        await ws.wait_connected()
        with pytest.raises(StreamCommandError) as unknown:
            await ws.subscribe(["orderbook_delta"], ["NO-SUCH-MARKET"])
        assert unknown.value.error_code == 16
        assert ws.subscriptions == []
        assert ws.stats.server_errors == 1

    stranger = KalshiSigner("0b3c7c43-0000-4000-8000-000000000001", new_rsa_key())
    rejected = KalshiWebSocket(sandbox.server.ws_url, stranger, backoff=FAST)
    async with rejected:
        await eventually_async(lambda: rejected.stats.auth_failures >= 2, what="401s")
        assert rejected.state in (StreamState.RECONNECTING, StreamState.CONNECTING)
        assert rejected.stats.connects == 0
    assert rejected.state is StreamState.CLOSED


async def test_sandbox_pings_with_heartbeat_and_refuses_bad_upgrades(
    sandbox: RunningSandbox,
) -> None:
    import aiohttp

    hub = sandbox.server.stream
    hub.configure(ping_interval=0.05)  # 10 s by default, as Kalshi; shortened for the test
    url = kalshi_ws_url(KalshiMode.SANDBOX, sandbox.env)  # derived from the REST URL
    assert url == sandbox.server.ws_url
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(
            url, headers=sandbox.signer.websocket_headers(), autoping=False
        ) as raw:
            message = await raw.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.PING
            assert message.data == b"heartbeat"
            await raw.pong(message.data)
        headers = sandbox.signer.websocket_headers()
        headers["KALSHI-ACCESS-SIGNATURE"] = headers["KALSHI-ACCESS-SIGNATURE"][::-1]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=headers)
        assert refused.value.status == 401
        async with http.get(sandbox.server.url + "/_admin/ws") as admin:
            state = await admin.json()
    assert state["faults"]["ping_interval"] == 0.05
    assert state["stats"]["auth_refused"] == 1
    assert hub.stats.pings >= 1


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("not json", 1),
        ({"id": 1, "cmd": "subscribe"}, 2),
        ({"id": 1, "cmd": "subscribe", "params": {"market_ticker": "X"}}, 3),
        ({"id": 1, "cmd": "unsubscribe", "params": {}}, 4),
        ({"id": 1, "cmd": "dance"}, 5),
        ({"id": 1, "cmd": "unsubscribe", "params": {"sids": [999]}}, 7),
        ({"id": 1, "cmd": "subscribe", "params": {"channels": ["nope"]}}, 8),
        (
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["ticker"], "market_ticker": "A", "market_tickers": ["B"]},
            },
            11,
        ),
        ({"id": 1, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "x"}}, 12),
        ({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
        (
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["ticker"], "market_tickers": ["NO-SUCH"]},
            },
            16,
        ),
    ],
)
async def test_commands_get_the_reference_error_numbers(
    sandbox: RunningSandbox, command: object, code: int
) -> None:
    import json

    import aiohttp

    url = kalshi_ws_url(KalshiMode.SANDBOX, sandbox.env)
    assert url is not None
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers=sandbox.signer.websocket_headers()) as raw,
    ):
        await raw.send_str(command if isinstance(command, str) else json.dumps(command))
        reply = json.loads((await raw.receive(timeout=5)).data)
    assert reply["type"] == "error"
    assert error_fields(reply["msg"])[0] == code
