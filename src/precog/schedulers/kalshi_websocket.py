"""The Kalshi WebSocket client: one connection, typed events, local order books, resync.

State machine (SPEC §5)::

    DISCONNECTED --start()--> CONNECTING --upgrade ok--> CONNECTED
    CONNECTED --drop / idle timeout / clean close--> RECONNECTING --backoff--> CONNECTING
    any --close()--> CLOSED (final)

- Auth: the three KALSHI-ACCESS-* headers on the upgrade request, signed again on every
  attempt (`KalshiSigner.websocket_headers`). A 401 is counted (`stats.auth_failures`) and
  retried with backoff like any failed attempt: a stale timestamp heals, a bad key does not.
- Backoff: the project's one policy (`precog.utils.retry.RetryPolicy`), capped and jittered,
  also after a clean close; the attempt counter resets once a connection is up.
- Subscriptions are the client's own records (`Subscription`), stable across reconnects;
  after every (re)connect each one is replayed and gets new server `sid`s.
- Sequence numbers: per `sid`; a gap marks that subscription's books stale and asks for a
  `get_snapshot` of them (a resync). Deltas for a stale book are ignored until its snapshot.
- Liveness: if no frame arrived for `idle_timeout` seconds the client pings; no pong within
  `ping_timeout` seconds means the connection is dead (a stall) and it is dropped. These
  are real seconds (the event loop's clock); the injected `clock` stamps events and the
  injected `sleep` (default: the clock's) waits out the backoff.
- Events: `ConnectionChange`, `TickerUpdate`, `TradeEvent`, `LifecycleEvent`, `FillEvent`
  and `BookUpdate` (after each snapshot/delta) go to the callbacks (`add_callback`) and to a
  bounded buffer read by `async for event in client.events()`; when the buffer is full the
  oldest event is dropped and counted (`stats.dropped_events`), so memory stays bounded.

URL: `KALSHI_WS_URL` wins; else the WebSocket endpoint on the REST host
(``http://h:p/trade-api/v2`` -> ``ws://h:p/trade-api/ws/v2``, which is what the sandbox
serves); else the public demo/live host (`kalshi_ws_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from precog.api_connectors.errors import KalshiError, ParseError
from precog.api_connectors.kalshi_client import (
    BASE_URL_VARIABLE,
    PUBLIC_BASE_URLS,
    kalshi_base_url,
)
from precog.api_connectors.kalshi_stream_models import (
    BookUpdate,
    ConnectionChange,
    OrderBook,
    StreamEvent,
    StreamState,
    error_fields,
    parse_book_delta,
    parse_book_snapshot,
    parse_fill_event,
    parse_lifecycle,
    parse_ticker,
    parse_trade_event,
)
from precog.config.environment import KalshiMode
from precog.utils.clock import Clock, SystemClock
from precog.utils.retry import RetryPolicy

logger = logging.getLogger(__name__)

WS_PATH: Final = "/trade-api/ws/v2"
WS_URL_VARIABLE: Final = "KALSHI_WS_URL"
PUBLIC_WS_URLS: Final[Mapping[KalshiMode, str]] = {
    KalshiMode.DEMO: "wss://external-api-ws.demo.kalshi.co" + WS_PATH,
    KalshiMode.LIVE: "wss://external-api-ws.kalshi.com" + WS_PATH,
}
ORDERBOOK: Final = "orderbook_delta"
CHANNELS: Final = frozenset({"ticker", ORDERBOOK, "trade", "market_lifecycle_v2", "fill"})
# Channels that need a market filter (reference A7.6) and ones that take none.
NEEDS_MARKETS: Final = frozenset({ORDERBOOK})
NO_MARKET_FILTER: Final = frozenset({"market_lifecycle_v2"})
# Errors that end a subscription (reference A7.8): channel error, internal, buffer overflow.
TERMINAL_ERRORS: Final = frozenset({10, 17, 25})

EventCallback = Callable[[StreamEvent], None]
# (url, upgrade headers, open timeout, max frame bytes) -> an open connection.
Connector = Callable[[str, dict[str, str], float, int], Awaitable[ClientConnection]]


async def _connect(
    url: str, headers: dict[str, str], open_timeout: float, max_size: int
) -> ClientConnection:
    return await connect(
        url,
        additional_headers=headers,
        open_timeout=open_timeout,
        ping_interval=None,  # liveness is ours (the idle watchdog on the injected clock)
        max_size=max_size,
        max_queue=64,
        compression=None,
    )


def _decode(payload: str | bytes) -> Any:
    """JSON -> Python, fractional numbers as Decimal (never float)."""
    return json.loads(payload, parse_float=Decimal)


def kalshi_ws_url(
    mode: KalshiMode, environ: Mapping[str, str], rest_base_url: str | None = None
) -> str | None:
    """WebSocket URL: KALSHI_WS_URL, else the REST host's WS path, else the public host.

    `rest_base_url` is the REST URL in use (e.g. the in-process sandbox's); without it,
    KALSHI_API_BASE_URL. None means no URL is known yet (sandbox mode before the in-process
    sandbox started).
    """
    override = environ.get(WS_URL_VARIABLE, "").strip()
    if override:
        return override
    rest = rest_base_url or (
        kalshi_base_url(mode, environ) if environ.get(BASE_URL_VARIABLE, "").strip() else None
    )
    if rest:
        rest = rest.rstrip("/")
        for public_mode, public_rest in PUBLIC_BASE_URLS.items():
            if rest == public_rest:  # the public WebSocket lives on its own host
                return PUBLIC_WS_URLS[public_mode]
        parts = urlsplit(rest)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        return urlunsplit((scheme, parts.netloc, WS_PATH, "", ""))
    return PUBLIC_WS_URLS.get(mode)


class WebSocketSigner(Protocol):
    """What the client needs from `kalshi_auth.KalshiSigner`."""

    def websocket_headers(self) -> dict[str, str]: ...


class StreamCommandError(KalshiError):
    """The server answered a command with ``type: "error"`` (code and text as sent)."""

    def __init__(self, code: int | None, text: str) -> None:
        super().__init__(f"Kalshi WebSocket error {code}: {text}")
        self.error_code = code
        self.text = text


class StreamClosedError(KalshiError):
    """The client was closed; it cannot be started or used again."""


@dataclass
class StreamStats:
    """Counters of one client (cumulative over reconnects)."""

    frames: int = 0  # every text/binary frame received
    messages: int = 0  # frames decoded into a known message type
    bytes: int = 0
    decode_errors: int = 0  # garbage frames and messages that fail to parse
    unknown_messages: int = 0
    stale_messages: int = 0  # data for a sid the client no longer follows
    server_errors: int = 0  # `error` replies
    gaps: int = 0
    resyncs: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    auth_failures: int = 0
    idle_timeouts: int = 0
    dropped_events: int = 0
    events: int = 0
    last_message_monotonic: float | None = None
    last_message_at: dt.datetime | None = None


@dataclass(eq=False)
class Subscription:
    """One subscription as the client keeps it: channels and markets (None = all markets).

    ``sids`` maps each channel to its server sid on the current connection (empty while
    disconnected); ``ready`` is set once every channel is acknowledged.
    """

    key: int
    channels: tuple[str, ...]
    market_tickers: set[str] | None
    initial_tickers: bool = False
    sids: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: StreamCommandError | None = None


@dataclass
class _Command:
    cmd: str
    subscription: Subscription | None
    expected: int
    future: asyncio.Future[list[dict[str, Any]]]
    replies: list[dict[str, Any]] = field(default_factory=list)


_SENTINEL: Final = object()


class KalshiWebSocket:
    """One WebSocket connection to Kalshi (or the sandbox) with subscriptions and books."""

    def __init__(
        self,
        url: str,
        signer: WebSocketSigner,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], Any] | None = None,
        rng: random.Random | None = None,
        backoff: RetryPolicy | None = None,
        idle_timeout: float = 30.0,
        ping_timeout: float = 10.0,
        open_timeout: float = 10.0,
        command_timeout: float = 10.0,
        event_buffer: int = 10_000,
        max_frame_bytes: int = 16 * 2**20,
        connector: Connector | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"Kalshi WebSocket URL must be ws(s)://host/...: {url!r}")
        self.url = url
        self.path = parts.path or "/"
        self._signer = signer
        self._clock: Clock = clock or SystemClock()
        self._sleep = sleep or self._clock.sleep
        self._backoff = backoff or RetryPolicy(
            base_delay=0.5,
            max_delay=30.0,
            rng=rng or random.Random(),  # noqa: S311
        )
        self.idle_timeout = idle_timeout
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.command_timeout = command_timeout
        self.max_frame_bytes = max_frame_bytes
        self.stats = StreamStats()
        self._state = StreamState.DISCONNECTED
        self._ids = itertools.count(1)
        self._keys = itertools.count(1)
        self._subs: dict[int, Subscription] = {}
        self._routes: dict[int, tuple[Subscription, str]] = {}  # sid -> (subscription, channel)
        self._seq: dict[int, int] = {}
        self._pending: dict[int, _Command] = {}
        self._books: dict[str, OrderBook] = {}
        self._callbacks: list[EventCallback] = []
        self._buffer: deque[StreamEvent] = deque()
        self._buffer_limit = event_buffer
        self._buffer_signal = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        self._transport_only = False
        self._connector: Connector = connector or _connect
        self._loop_time: Callable[[], float] = lambda: 0.0  # the loop's clock, once connected
        self._last_frame = 0.0

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is StreamState.CONNECTED

    async def start(self) -> KalshiWebSocket:
        """Start connecting in the background (returns at once; see `wait_connected`)."""
        if self._state is StreamState.CLOSED:
            raise StreamClosedError("this WebSocket client was closed; create a new one")
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="kalshi-websocket")
        return self

    async def wait_connected(self, within: float | None = None) -> None:
        """Wait until the client is CONNECTED (bounded by `within` seconds)."""
        await asyncio.wait_for(self._connected.wait(), within or self.open_timeout)

    async def close(self) -> None:
        """Stop for good: close the socket, end `events()`; idempotent."""
        if self._state is StreamState.CLOSED:
            return
        self._set_state(StreamState.CLOSED, "closed by the caller")
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        self._fail_pending(StreamClosedError("the WebSocket client was closed"))
        self._buffer_signal.set()

    async def __aenter__(self) -> KalshiWebSocket:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def transport_only(self) -> bool:
        """Benchmark switch: frames are read and counted, nothing is decoded or applied.

        The books are not maintained meanwhile; switching back forgets the seq baselines
        (the skipped frames are not gaps) but does not repair the books."""
        return self._transport_only

    @transport_only.setter
    def transport_only(self, value: bool) -> None:
        if self._transport_only and not value:
            self._seq.clear()
        self._transport_only = value

    # -- events ------------------------------------------------------------------------
    def add_callback(self, callback: EventCallback) -> None:
        """Call `callback(event)` for every event (synchronously, in the reader task)."""
        self._callbacks.append(callback)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Every event, in order, until the client is closed."""
        while True:
            while self._buffer:
                yield self._buffer.popleft()
            if self._state is StreamState.CLOSED:
                return
            self._buffer_signal.clear()
            await self._buffer_signal.wait()

    def _emit(self, event: StreamEvent) -> None:
        self.stats.events += 1
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:  # one bad consumer must not stop the feed
                logger.exception("WebSocket event callback failed")
        if self._buffer_limit <= 0:
            return
        if len(self._buffer) >= self._buffer_limit:
            self._buffer.popleft()
            self.stats.dropped_events += 1
        self._buffer.append(event)
        self._buffer_signal.set()

    def _set_state(self, state: StreamState, reason: str) -> None:
        if state is self._state:
            return
        self._state = state
        if state is StreamState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        logger.info("Kalshi WebSocket %s (%s)", state.value, reason)
        self._emit(ConnectionChange(state, reason, self._clock.now()))

    # -- books -------------------------------------------------------------------------
    def book(self, market_ticker: str) -> OrderBook | None:
        return self._books.get(market_ticker)

    @property
    def books(self) -> Mapping[str, OrderBook]:
        return self._books

    # -- subscriptions -------------------------------------------------------------------
    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subs.values())

    async def subscribe(
        self,
        channels: Iterable[str],
        market_tickers: Iterable[str] | None = None,
        *,
        wait: bool = True,
        initial_tickers: bool = False,
    ) -> Subscription:
        """Follow `channels` for `market_tickers` (None = every market where allowed).

        Registered at once and replayed after every reconnect. With `wait` (and while
        connected) returns once the server acknowledged every channel; an error reply raises
        `StreamCommandError` and the subscription is dropped. `initial_tickers` asks the
        ticker channel for the current values right away (``send_initial_snapshot``), on
        every (re)subscribe, so a cache is whole again after a reconnect.
        """
        self._check_open()
        chosen = tuple(dict.fromkeys(channels))
        if not chosen:
            raise ValueError("subscribe needs at least one channel")
        unknown = [c for c in chosen if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; known: {sorted(CHANNELS)}")
        tickers = set(market_tickers) if market_tickers is not None else None
        if tickers is not None and not tickers:
            raise ValueError("market_tickers must not be empty (use None for all markets)")
        if tickers is None and NEEDS_MARKETS.intersection(chosen):
            raise ValueError(f"{ORDERBOOK} needs market_tickers")
        sub = Subscription(next(self._keys), chosen, tickers, initial_tickers=initial_tickers)
        self._subs[sub.key] = sub
        if self._ws is not None and self.connected:
            await self._send_subscribe(self._ws, sub)
            if wait:
                await self._wait_ready(sub)
        return sub

    async def _wait_ready(self, sub: Subscription) -> None:
        await asyncio.wait_for(sub.ready.wait(), self.command_timeout)
        if sub.error is not None:
            raise sub.error

    async def unsubscribe(self, sub: Subscription) -> None:
        """Stop following `sub`; its books are dropped and late messages ignored."""
        self._check_open()
        self._subs.pop(sub.key, None)
        sids = list(sub.sids.values())
        for sid in sids:
            self._routes.pop(sid, None)
            self._seq.pop(sid, None)
        sub.sids.clear()
        self._drop_unfollowed_books()
        if sids and self._ws is not None and self.connected:
            await self._command(self._ws, "unsubscribe", {"sids": sids}, None, expected=len(sids))

    async def update_subscription(
        self,
        sub: Subscription,
        *,
        add_markets: Iterable[str] = (),
        remove_markets: Iterable[str] = (),
    ) -> None:
        """Add and/or remove markets of `sub` (its channels stay the same)."""
        self._check_open()
        if sub.market_tickers is None:
            raise ValueError("this subscription follows every market; it has no market list")
        added = set(add_markets) - sub.market_tickers
        removed = set(remove_markets) & sub.market_tickers
        sub.market_tickers |= added
        sub.market_tickers -= removed
        if removed:
            self._drop_unfollowed_books()
        if self._ws is None or not self.connected:
            return  # the replay after the reconnect carries the new list
        for channel, sid in list(sub.sids.items()):
            if channel in NO_MARKET_FILTER:
                continue
            for action, tickers in (("add_markets", added), ("delete_markets", removed)):
                if tickers:
                    await self._command(
                        self._ws,
                        "update_subscription",
                        {"sids": [sid], "market_tickers": sorted(tickers), "action": action},
                        sub,
                    )

    def _drop_unfollowed_books(self) -> None:
        followed: set[str] = set()
        for s in self._subs.values():
            if ORDERBOOK in s.channels and s.market_tickers is not None:
                followed |= s.market_tickers
        for ticker in [t for t in self._books if t not in followed]:
            del self._books[ticker]

    def _is_closed(self) -> bool:
        return self._state is StreamState.CLOSED

    def _check_open(self) -> None:
        if self._state is StreamState.CLOSED:
            raise StreamClosedError("this WebSocket client was closed; create a new one")

    # -- commands --------------------------------------------------------------------------
    async def _send_subscribe(self, ws: ClientConnection, sub: Subscription) -> None:
        sub.ready.clear()
        sub.error = None
        params = _subscribe_params(sub, sub.channels)
        for ticker in (sub.market_tickers or ()) if ORDERBOOK in sub.channels else ():
            self._books.setdefault(ticker, OrderBook(ticker)).stale = True
        await self._send(ws, "subscribe", params, sub, expected=len(sub.channels))

    async def _send(
        self,
        ws: ClientConnection,
        cmd: str,
        params: dict[str, Any] | None,
        sub: Subscription | None,
        *,
        expected: int = 1,
    ) -> asyncio.Future[list[dict[str, Any]]]:
        command_id = next(self._ids)
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = _Command(cmd, sub, expected, future)
        body: dict[str, Any] = {"id": command_id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        try:
            await ws.send(json.dumps(body, separators=(",", ":")))
        except WebSocketException:
            self._pending.pop(command_id, None)
            future.cancel()  # the connection is gone; the replay after reconnect redoes it
        return future

    async def _command(
        self,
        ws: ClientConnection,
        cmd: str,
        params: dict[str, Any] | None,
        sub: Subscription | None,
        *,
        expected: int = 1,
    ) -> list[dict[str, Any]]:
        """Send and wait for the replies; lost connections are not errors (replay fixes)."""
        future = await self._send(ws, cmd, params, sub, expected=expected)
        if future.cancelled():
            return []  # not sent: the connection is gone
        try:
            return await asyncio.wait_for(future, self.command_timeout)
        except ConnectionError:
            return []  # the connection ended before the reply

    async def list_subscriptions(self) -> list[dict[str, Any]]:
        """The server's view of this connection's subscriptions (``[{channel, sid}, ...]``)."""
        if self._ws is None or not self.connected:
            return []
        replies = await self._command(self._ws, "list_subscriptions", None, None)
        msg = replies[0].get("msg") if replies else None
        return list(msg) if isinstance(msg, list) else []

    def _fail_pending(self, exc: BaseException) -> None:
        for command in self._pending.values():
            if not command.future.done():
                command.future.set_exception(exc)
                command.future.exception()  # retrieved: nobody may be waiting any more
        self._pending.clear()

    # -- connection loop -------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while self._state is not StreamState.CLOSED:
            self._set_state(StreamState.CONNECTING, "connecting")
            try:
                ws = await self._connector(
                    self.url,
                    self._signer.websocket_headers(),
                    self.open_timeout,
                    self.max_frame_bytes,
                )
            except (OSError, TimeoutError, WebSocketException) as exc:
                self.stats.connect_failures += 1
                if isinstance(exc, InvalidStatus) and exc.response.status_code == 401:
                    self.stats.auth_failures += 1
                reason = f"connect failed: {_describe(exc)}"
            else:
                attempt = 0
                reason = await self._serve(ws)
            if self._is_closed():
                return
            self._set_state(StreamState.RECONNECTING, reason)
            await self._sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _serve(self, ws: ClientConnection) -> str:
        """Run one connection until it ends; returns why it ended."""
        self._ws = ws
        self.stats.connects += 1
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._routes.clear()
        self._seq.clear()
        self._loop_time = asyncio.get_running_loop().time
        self._last_frame = self._loop_time()
        self._set_state(StreamState.CONNECTED, "upgrade accepted")
        watchdog = asyncio.create_task(self._watchdog(ws))
        reason = "connection closed"
        try:
            for sub in list(self._subs.values()):
                await self._send_subscribe(ws, sub)
            async for frame in ws:
                self._on_frame(frame)
        except WebSocketException as exc:
            reason = f"connection lost: {_describe(exc)}"
        except OSError as exc:
            reason = f"connection lost: {exc}"
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            self._ws = None
            self._fail_pending(ConnectionError(reason))
            for book in self._books.values():
                book.stale = True
            for sub in self._subs.values():
                sub.sids.clear()
            with contextlib.suppress(Exception):
                ws.transport.abort()
        if ws.close_code is not None and reason == "connection closed":
            reason = f"closed by the server (code {ws.close_code})"
        return reason

    async def _watchdog(self, ws: ClientConnection) -> None:
        """Drop the connection when nothing arrives and a ping gets no pong (a stall).

        Measured on the event loop's own clock (real time): liveness is about the network,
        and an injected fake clock (timestamps, backoff) must not make this loop spin."""
        loop = asyncio.get_running_loop()
        check = max(self.idle_timeout / 4, 0.01)
        while True:
            await asyncio.sleep(check)
            if loop.time() - self._last_frame < self.idle_timeout:
                continue
            try:
                pong = await ws.ping()
                await asyncio.wait_for(pong, self.ping_timeout)
            except (TimeoutError, WebSocketException, ConnectionError):
                self.stats.idle_timeouts += 1
                logger.warning("Kalshi WebSocket idle for %.1fs without pong", self.idle_timeout)
                ws.transport.abort()
                return
            self._last_frame = loop.time()

    # -- frames ------------------------------------------------------------------------------
    def _on_frame(self, frame: str | bytes) -> None:
        stats = self.stats
        stats.frames += 1
        stats.bytes += len(frame)
        stats.last_message_monotonic = self._clock.monotonic()
        self._last_frame = self._loop_time()
        if self._transport_only:
            return
        try:
            message = _decode(frame)
            if not isinstance(message, dict):
                raise ValueError("frame is not a JSON object")
            self._dispatch(message)
        except (ValueError, ParseError) as exc:
            stats.decode_errors += 1
            logger.warning("Kalshi WebSocket: unusable frame (%s): %.80r", exc, frame)
        except Exception:  # an odd shape must not end the feed; count it and go on
            stats.decode_errors += 1
            logger.exception("Kalshi WebSocket: frame could not be handled: %.80r", frame)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        msg = message.get("msg")
        command_id = message.get("id")
        if isinstance(command_id, int) and command_id in self._pending:
            self._on_reply(command_id, message)
            return
        if kind == "error":
            self._on_error(message, msg)
            return
        sid = message.get("sid")
        if not isinstance(sid, int) or (route := self._routes.get(sid)) is None:
            if kind in _DATA_TYPES:
                self.stats.stale_messages += 1
            else:
                self.stats.unknown_messages += 1
            return
        self.stats.messages += 1
        now = self._clock.now()
        self.stats.last_message_at = now
        seq = message.get("seq")
        if kind in {"orderbook_snapshot", "orderbook_delta"}:
            self._on_book(
                route[0],
                kind,
                msg,
                sid=sid,
                seq=seq if isinstance(seq, int) else None,
                now=now,
            )
        elif kind == "ticker":
            self._emit(parse_ticker(msg, now))
        elif kind == "trade":
            self._emit(parse_trade_event(msg, now))
        elif kind == "market_lifecycle_v2":
            self._emit(parse_lifecycle(msg, now))
        elif kind == "fill":
            self._emit(parse_fill_event(msg, now))
        else:
            self.stats.messages -= 1
            self.stats.unknown_messages += 1  # unknown types are ignored (reference A7.6)

    def _on_reply(self, command_id: int, message: dict[str, Any]) -> None:
        command = self._pending[command_id]
        kind = message.get("type")
        msg = message.get("msg")
        sid, seq = message.get("sid"), message.get("seq")
        if isinstance(sid, int) and isinstance(seq, int) and sid in self._seq:
            self._seq[sid] = seq  # ok/unsubscribed replies consume a seq of the stream
        if kind == "error":
            self.stats.server_errors += 1
            code, text = error_fields(msg if isinstance(msg, dict) else {})
            error = StreamCommandError(code, text)
            del self._pending[command_id]
            sub = command.subscription
            if command.cmd == "subscribe" and sub is not None:
                sub.error = error
                sub.ready.set()
                self._subs.pop(sub.key, None)
            if not command.future.done():
                command.future.set_exception(error)
                command.future.exception()
            return
        if kind == "subscribed" and isinstance(msg, dict) and command.subscription is not None:
            channel, new_sid = msg.get("channel"), msg.get("sid")
            sub = command.subscription
            if isinstance(channel, str) and isinstance(new_sid, int):
                if sub.key in self._subs:
                    sub.sids[channel] = new_sid
                    self._routes[new_sid] = (sub, channel)
                else:  # unsubscribed while the subscribe was in flight
                    self._orphan_sid(new_sid)
            if len(sub.sids) >= len(sub.channels):
                sub.ready.set()
        command.replies.append(message)
        if len(command.replies) >= command.expected:
            del self._pending[command_id]
            if not command.future.done():
                command.future.set_result(command.replies)

    def _orphan_sid(self, sid: int) -> None:
        if self._ws is not None:
            task = asyncio.ensure_future(self._send(self._ws, "unsubscribe", {"sids": [sid]}, None))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # -- order books -------------------------------------------------------------------------
    def _on_book(
        self,
        sub: Subscription,
        kind: str,
        msg: Any,
        *,
        sid: int,
        seq: int | None,
        now: dt.datetime,
    ) -> None:
        if seq is not None:
            last = self._seq.get(sid)
            self._seq[sid] = seq
            if last is not None and seq != last + 1:  # a lost delta may precede a snapshot
                self._gap(sub, sid, last, seq)
        if kind == "orderbook_snapshot":
            snapshot = parse_book_snapshot(msg, sid, seq)
            if sub.market_tickers is not None and snapshot.market_ticker not in sub.market_tickers:
                self.stats.stale_messages += 1
                return
            book = self._books.setdefault(snapshot.market_ticker, OrderBook(snapshot.market_ticker))
            book.apply_snapshot(snapshot)
            self._emit(book.top(snapshot=True, venue_time=snapshot.venue_time, received_at=now))
            return
        delta = parse_book_delta(msg, sid, seq)
        found = self._books.get(delta.market_ticker)
        if found is None or found.stale:
            return  # waiting for its snapshot
        found.apply_delta(delta)
        self._emit(found.top(snapshot=False, venue_time=delta.venue_time, received_at=now))

    def _gap(self, sub: Subscription, sid: int, last: int, seq: int) -> None:
        """A missing seq: every book of the sid is stale until a fresh snapshot arrives."""
        self.stats.gaps += 1
        tickers = sorted(sub.market_tickers or ())
        logger.warning("Kalshi WebSocket seq gap on sid %s: %s -> %s; resync", sid, last, seq)
        for ticker in tickers:
            book = self._books.get(ticker)
            if book is not None:
                book.stale = True
        if self._ws is not None and tickers:
            self.stats.resyncs += 1
            ws = self._ws
            task = asyncio.ensure_future(self._resync(ws, sub, sid, tickers))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _resync(
        self, ws: ClientConnection, sub: Subscription, sid: int, tickers: list[str]
    ) -> None:
        params = {"sids": [sid], "market_tickers": tickers, "action": "get_snapshot"}
        try:
            await self._command(ws, "update_subscription", params, sub)
        except StreamCommandError:
            # No get_snapshot on this server: resubscribe the channel (new sid, snapshots).
            if sub.key in self._subs and sub.sids.get(ORDERBOOK) == sid:
                await self._send(ws, "unsubscribe", {"sids": [sid]}, None)
                await self._resubscribe_channel(ws, sub, ORDERBOOK)

    async def _resubscribe_channel(
        self, ws: ClientConnection, sub: Subscription, channel: str
    ) -> None:
        """Subscribe one channel of `sub` again (after a terminal error or a failed resync)."""
        old = sub.sids.pop(channel, None)
        if old is not None:
            self._routes.pop(old, None)
            self._seq.pop(old, None)
        if channel == ORDERBOOK:
            for ticker in sub.market_tickers or ():
                self._books.setdefault(ticker, OrderBook(ticker)).stale = True
        params = _subscribe_params(sub, (channel,))
        await self._send(ws, "subscribe", params, sub)

    def _on_error(self, message: dict[str, Any], msg: Any) -> None:
        """An error outside a command; a terminal one (10, 17, 25) ended its subscription."""
        self.stats.server_errors += 1
        code, text = error_fields(msg if isinstance(msg, dict) else {})
        logger.warning("Kalshi WebSocket error %s: %s", code, text)
        sid = message.get("sid")
        route = self._routes.get(sid) if isinstance(sid, int) else None
        if code in TERMINAL_ERRORS and route is not None and self._ws is not None:
            self.stats.resyncs += 1
            task = asyncio.ensure_future(self._resubscribe_channel(self._ws, *route))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


_DATA_TYPES: Final = frozenset(
    {"ticker", "trade", "fill", "orderbook_snapshot", "orderbook_delta", "market_lifecycle_v2"}
)


def _subscribe_params(sub: Subscription, channels: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {"channels": list(channels)}
    if sub.market_tickers is not None:
        params["market_tickers"] = sorted(sub.market_tickers)
    if sub.initial_tickers and "ticker" in channels:
        params["send_initial_snapshot"] = True
    return params


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code} on the upgrade"
    return str(exc) or type(exc).__name__


__all__ = [
    "CHANNELS",
    "PUBLIC_WS_URLS",
    "WS_PATH",
    "WS_URL_VARIABLE",
    "BookUpdate",
    "KalshiWebSocket",
    "StreamClosedError",
    "StreamCommandError",
    "StreamState",
    "StreamStats",
    "Subscription",
    "kalshi_ws_url",
]
