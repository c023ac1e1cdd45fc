"""The sandbox exchange's WebSocket side: ``/trade-api/ws/v2`` on the REST server's port.

Header auth on the upgrade (401 with Kalshi's body on a bad or stale signature), the commands
`subscribe`, `unsubscribe`, `update_subscription` (add_markets, delete_markets, get_snapshot)
and `list_subscriptions` with the reply shapes and numbered errors of reference A7.4/A7.5,
channels ticker, orderbook_delta (snapshot first, `seq` per sid), trade,
market_lifecycle_v2 and fill, all fed by the one simulation (`StreamFeed`), and a ping with
payload ``heartbeat`` every `ping_interval` seconds (10 s like Kalshi; tests shorten it).

One sandbox subscription per `subscribe` channel: repeating a subscription gives another sid
(Kalshi's pre-October-2025 behaviour; the client never relies on the merge).

Fault switches (`StreamFaults`, Python `StreamHub.configure(...)` or ``POST /_admin/ws``):
``drop`` (abort every connection now), ``skip_seq`` (the next N orderbook messages are lost
but their seq numbers used), ``garbage`` (N non-JSON frames), ``stall`` (stop sending and
reading without closing), ``refuse_upgrades`` (the next N upgrades get 503) and
``refuse_for`` (seconds), ``overflow`` (end every orderbook subscription with error 25),
``burst`` (step the simulation as fast as the clients read until N
frames went out), ``ping_interval``. `sent` records the frames sent (bounded); the feed's
`history` records the market states.

Threading: the simulation may change in any thread; its listener computes the batch under
the exchange lock and hands it to the server loop, which does all socket work.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSMsgType, web

from precog.sandbox.auth import RequestAuthenticator, unauthorized_body
from precog.sandbox.exchange import SandboxExchange
from precog.sandbox.stream_feed import Batch, StreamFeed, Update

logger = logging.getLogger(__name__)

WS_PATH: Final = "/trade-api/ws/v2"
CHANNELS: Final = frozenset({"ticker", "orderbook_delta", "trade", "market_lifecycle_v2", "fill"})
MARKET_FILTER_IGNORED: Final = frozenset({"market_lifecycle_v2"})
QUEUE_LIMIT: Final = 100_000  # frames waiting for one slow client before it is dropped
_SID_SEQ: Final = re.compile(r'"sid":(\d+),"seq":(\d+)')
GARBAGE: Final = '{"type": "ticker", "sid": \x00 not json'


class CommandError(Exception):
    """A numbered WebSocket error (reference A7.5)."""

    def __init__(self, code: int, text: str, ticker: str | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.ticker = ticker


@dataclass
class StreamFaults:
    """The WebSocket fault switches (see the module docstring)."""

    skip_seq: int = 0
    garbage: int = 0
    stall: bool = False
    refuse_upgrades: int = 0
    refuse_until: float = 0.0  # time.monotonic() deadline
    ping_interval: float = 10.0

    def as_json(self) -> dict[str, Any]:
        return {
            "skip_seq": self.skip_seq,
            "garbage": self.garbage,
            "stall": self.stall,
            "refuse_upgrades": self.refuse_upgrades,
            "refusing_for": max(0.0, self.refuse_until - time.monotonic()),
            "ping_interval": self.ping_interval,
        }


@dataclass(eq=False)
class _Sub:
    sid: int
    channel: str
    tickers: set[str] | None  # None = every market
    seq: int = 0
    snapshot_version: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SentFrame:
    connection: int
    text: str


class _Connection:
    def __init__(self, number: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.number = number
        self.ws = ws
        self.request = request
        self.subs: dict[int, _Sub] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.resume = asyncio.Event()
        self.resume.set()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()


@dataclass
class HubStats:
    upgrades: int = 0
    refused: int = 0
    auth_refused: int = 0
    commands: int = 0
    frames_queued: int = 0
    frames_sent: int = 0
    dropped: int = 0
    overflows: int = 0
    skipped_seq: int = 0
    garbage_sent: int = 0
    pings: int = 0


class StreamHub:
    """Connections, subscriptions and faults of the sandbox's WebSocket endpoint."""

    def __init__(
        self,
        exchange: SandboxExchange,
        authenticator: RequestAuthenticator,
        *,
        ping_interval: float = 10.0,
        record: int = 50_000,
    ) -> None:
        self.exchange = exchange
        self.authenticator = authenticator
        self._feed: StreamFeed | None = (
            None  # started by the first upgrade (REST-only runs pay nothing)
        )
        self.faults = StreamFaults(ping_interval=ping_interval)
        self.stats = HubStats()
        self.sent: deque[SentFrame] = deque(maxlen=record)
        self._connections: dict[int, _Connection] = {}
        self._numbers = itertools.count(1)
        self._sids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._burst: asyncio.Task[None] | None = None
        self._burst_left = 0
        self._lock = threading.Lock()
        exchange.listeners.append(self._on_change)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that serves the sockets (set by the server when it starts)."""
        self._loop = loop

    @property
    def feed(self) -> StreamFeed:
        """The feed (started now if no upgrade started it yet); its `history` is the truth."""
        with self.exchange.lock():
            if self._feed is None:
                self._feed = StreamFeed(self.exchange)
            return self._feed

    # -- simulation -> sockets ----------------------------------------------------------------
    def _on_change(self) -> None:
        """Exchange listener (under its lock, any thread): diff now, publish on the loop.

        Always through the loop's queue, also from the loop's own thread, so batches go out
        in the order they were computed."""
        if self._feed is None:
            return
        batch = self._feed.changes()
        loop = self._loop
        if loop is None or not self._connections or not batch.updates:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody listens any more
            loop.call_soon_threadsafe(self._publish, batch)

    def _publish(self, batch: Batch) -> None:
        for conn in list(self._connections.values()):
            for sub in list(conn.subs.values()):
                for update in batch.updates:
                    if update.channel != sub.channel:
                        continue
                    if (
                        sub.tickers is not None
                        and sub.channel not in MARKET_FILTER_IGNORED
                        and update.ticker not in sub.tickers
                    ):
                        continue
                    if sub.snapshot_version.get(update.ticker, 0) >= batch.version:
                        continue  # the snapshot already contains this change
                    self._send_update(conn, sub, update)

    def _send_update(self, conn: _Connection, sub: _Sub, update: Update) -> None:
        if sub.channel == "orderbook_delta":
            sub.seq += 1
            if self.faults.skip_seq > 0:
                self.faults.skip_seq -= 1
                self.stats.skipped_seq += 1
                return  # lost on the way: the client must notice the gap
            frame = (
                f'{{"type":"{update.kind}","sid":{sub.sid},"seq":{sub.seq},"msg":{update.body}}}'
            )
        else:
            frame = f'{{"type":"{update.kind}","sid":{sub.sid},"msg":{update.body}}}'
        self._enqueue(conn, frame)

    def _enqueue(self, conn: _Connection, frame: str) -> None:
        if self.faults.garbage > 0:
            self.faults.garbage -= 1
            self.stats.garbage_sent += 1
            conn.queue.put_nowait(GARBAGE)
        if conn.queue.qsize() >= QUEUE_LIMIT:
            self.stats.overflows += 1
            conn.abort()  # a client this far behind reconnects and resyncs
            return
        self.stats.frames_queued += 1
        conn.queue.put_nowait(frame)

    # -- control (thread-safe) ---------------------------------------------------------------
    def configure(self, **switches: Any) -> dict[str, Any]:
        """Change fault switches: drop, skip_seq, garbage, stall, refuse_upgrades, refuse_for,
        overflow, burst, ping_interval. Validated first; thread-safe."""
        allowed = {
            "drop",
            "skip_seq",
            "garbage",
            "stall",
            "refuse_upgrades",
            "refuse_for",
            "burst",
            "ping_interval",
            "overflow",
        }
        unknown = set(switches) - allowed
        if unknown:
            raise ValueError(f"unknown WebSocket fault setting(s) {sorted(unknown)}")
        for name in ("skip_seq", "garbage", "refuse_upgrades", "burst"):
            if name in switches and (
                isinstance(switches[name], bool)
                or not isinstance(switches[name], int)
                or switches[name] < 0
            ):
                raise ValueError(f"{name} must be a non-negative integer")
        for name in ("refuse_for", "ping_interval"):
            if name in switches and (
                not isinstance(switches[name], int | float) or switches[name] < 0
            ):
                raise ValueError(f"{name} must be a non-negative number of seconds")
        if "ping_interval" in switches and switches["ping_interval"] <= 0:
            raise ValueError("ping_interval must be positive")
        self._call(lambda: self._apply(switches))
        return self.faults.as_json()

    def _apply(self, switches: dict[str, Any]) -> None:
        f = self.faults
        f.skip_seq += int(switches.get("skip_seq", 0))
        f.garbage += int(switches.get("garbage", 0))
        f.refuse_upgrades += int(switches.get("refuse_upgrades", 0))
        if "refuse_for" in switches:
            f.refuse_until = time.monotonic() + float(switches["refuse_for"])
        if "ping_interval" in switches:
            f.ping_interval = float(switches["ping_interval"])
        if "stall" in switches:
            f.stall = bool(switches["stall"])
            for conn in self._connections.values():
                self._set_stall(conn, f.stall)
        if switches.get("overflow"):
            self._overflow()
        if switches.get("drop"):
            self._drop_all()
        if switches.get("burst"):
            self._start_burst(int(switches["burst"]))

    def reset(self) -> None:
        """Every switch off (the ping interval stays)."""

        def clear() -> None:
            interval = self.faults.ping_interval
            self.faults = StreamFaults(ping_interval=interval)
            for conn in self._connections.values():
                self._set_stall(conn, stall=False)
            self._burst_left = 0

        self._call(clear)

    def _call(self, action: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or _running_loop() is loop:
            action()
        else:
            done = threading.Event()

            def run() -> None:
                try:
                    action()
                finally:
                    done.set()

            loop.call_soon_threadsafe(run)
            done.wait(10)

    def replay(self, frames: list[str]) -> None:
        """Send these frames again to every connection, seq renumbered to follow on (the
        benchmark's way to push the same frames through a second time); thread-safe."""

        def send() -> None:
            for conn in list(self._connections.values()):
                for frame in frames:
                    match = _SID_SEQ.search(frame)
                    if match is not None:
                        sub = conn.subs.get(int(match[1]))
                        if sub is None:
                            continue
                        sub.seq += 1
                        start, end = match.span(2)
                        frame = f"{frame[:start]}{sub.seq}{frame[end:]}"  # noqa: PLW2901
                    self._enqueue(conn, frame)

        self._call(send)

    def drop_all(self) -> None:
        """Abort every connection (no close frame: the client sees a dropped socket)."""
        self._call(self._drop_all)

    def _drop_all(self) -> None:
        for conn in list(self._connections.values()):
            self.stats.dropped += 1
            conn.abort()

    def _overflow(self) -> None:
        """End every orderbook subscription with error 25, as Kalshi does for a slow reader."""
        for conn in list(self._connections.values()):
            for sub in [s for s in conn.subs.values() if s.channel == "orderbook_delta"]:
                del conn.subs[sub.sid]
                self.stats.overflows += 1
                msg = {"code": 25, "msg": "Subscription buffer overflow"}
                self._reply(conn, {"type": "error", "sid": sub.sid, "msg": msg})

    def _set_stall(self, conn: _Connection, stall: bool) -> None:
        transport = conn.request.transport
        if stall:
            conn.resume.clear()
            if transport is not None:
                transport.pause_reading()  # no reads: pings stay unanswered, as in a hang
        else:
            conn.resume.set()
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    @property
    def connections(self) -> int:
        return len(self._connections)

    def subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription of every connection (for tests and the admin endpoint)."""
        return [
            {
                "connection": conn.number,
                "sid": sub.sid,
                "channel": sub.channel,
                "market_tickers": sorted(sub.tickers) if sub.tickers is not None else None,
            }
            for conn in list(self._connections.values())
            for sub in list(conn.subs.values())
        ]

    # -- burst -------------------------------------------------------------------------------
    def _start_burst(self, frames: int) -> None:
        self._burst_left = frames
        if self._burst is None or self._burst.done():
            self._burst = asyncio.ensure_future(self._run_burst())

    async def _run_burst(self) -> None:
        """Step the simulation whenever the clients have read what was sent."""
        while self._burst_left > 0 and self._connections:
            if any(c.queue.qsize() > 1000 for c in self._connections.values()):
                await asyncio.sleep(0.001)  # let the writers drain to the sockets
                continue
            queued = self.stats.frames_queued
            self.exchange.step()
            await asyncio.sleep(0)  # the batch is published on the next turn of the loop
            self._burst_left -= max(1, self.stats.frames_queued - queued)

    # -- the endpoint ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        f = self.faults
        if f.refuse_upgrades > 0 or time.monotonic() < f.refuse_until:
            f.refuse_upgrades = max(0, f.refuse_upgrades - 1)
            self.stats.refused += 1
            return web.json_response({"error": "service unavailable"}, status=503)
        reason = self.authenticator.check("GET", WS_PATH, request.headers)
        if reason is not None:
            self.stats.auth_refused += 1
            return web.json_response(unauthorized_body(reason), status=401)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        self.stats.upgrades += 1
        conn = _Connection(next(self._numbers), ws, request)
        with self.exchange.lock():
            _ = self.feed
            self._connections[conn.number] = conn
        if self.faults.stall:
            self._set_stall(conn, stall=True)
        writer = asyncio.create_task(self._writer(conn))
        pinger = asyncio.create_task(self._pinger(conn))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self.stats.commands += 1
                    self._command(conn, message.data)
                elif message.type is WSMsgType.BINARY:
                    self._reply_error(conn, None, CommandError(1, "Unable to process message"))
        finally:
            with self.exchange.lock():
                self._connections.pop(conn.number, None)
            writer.cancel()
            pinger.cancel()
            await asyncio.gather(writer, pinger, return_exceptions=True)
        return ws

    async def _writer(self, conn: _Connection) -> None:
        while True:
            frame = await conn.queue.get()
            await conn.resume.wait()
            await conn.ws.send_str(frame)  # waits for the socket to drain: the client's pace
            self.stats.frames_sent += 1
            self.sent.append(SentFrame(conn.number, frame))

    async def _pinger(self, conn: _Connection) -> None:
        while not conn.ws.closed:
            await asyncio.sleep(self.faults.ping_interval)
            if conn.resume.is_set() and not conn.ws.closed:
                await conn.ws.ping(b"heartbeat")
                self.stats.pings += 1

    # -- commands ----------------------------------------------------------------------------
    def _command(self, conn: _Connection, text: str) -> None:
        command_id: int | None = None
        try:
            try:
                body = json.loads(text)
            except ValueError:
                raise CommandError(1, "Unable to process message") from None
            if not isinstance(body, dict):
                raise CommandError(1, "Unable to process message")
            raw_id = body.get("id")
            command_id = raw_id if isinstance(raw_id, int) else None
            params = body.get("params")
            if params is not None and not isinstance(params, dict):
                raise CommandError(1, "Unable to process message")
            cmd = body.get("cmd")
            with self.exchange.lock():  # replies and snapshots see one state
                if cmd == "subscribe":
                    self._subscribe(conn, command_id, params)
                elif cmd == "unsubscribe":
                    self._unsubscribe(conn, command_id, params)
                elif cmd == "update_subscription":
                    self._update(conn, command_id, params)
                elif cmd == "list_subscriptions":
                    listing = [{"channel": s.channel, "sid": s.sid} for s in conn.subs.values()]
                    self._reply(conn, {"id": command_id, "type": "ok", "msg": listing})
                else:
                    raise CommandError(5, "Unknown command")
        except CommandError as exc:
            self._reply_error(conn, command_id, exc)

    def _reply(self, conn: _Connection, body: dict[str, Any]) -> None:
        self._enqueue(conn, json.dumps(body, separators=(",", ":")))

    def _reply_error(self, conn: _Connection, command_id: int | None, exc: CommandError) -> None:
        msg: dict[str, Any] = {"code": exc.code, "msg": exc.text}
        if exc.ticker is not None:
            msg["market_ticker"] = exc.ticker
        self._reply(conn, {"id": command_id, "type": "error", "msg": msg})

    def _tickers(self, params: dict[str, Any]) -> list[str] | None:
        single, many = params.get("market_ticker"), params.get("market_tickers")
        if single is not None and many is not None:
            raise CommandError(11, "market_ticker and market_tickers are mutually exclusive")
        if single is not None:
            many = [single]
        if many is None:
            return None
        if not isinstance(many, list) or not all(isinstance(t, str) for t in many):
            raise CommandError(11, "market_tickers must be a list of strings")
        for ticker in many:
            if ticker not in self.exchange.markets:
                raise CommandError(16, "Market not found", ticker)
        return list(dict.fromkeys(many))

    def _subscribe(self, conn: _Connection, command_id: int | None, params: Any) -> None:
        if not params:
            raise CommandError(2, "Params required")
        channels = params.get("channels")
        if not channels or not isinstance(channels, list):
            raise CommandError(3, "Channels required")
        for channel in channels:
            if channel not in CHANNELS:
                raise CommandError(8, "Unknown channel name")
        tickers = self._tickers(params)
        if "orderbook_delta" in channels and not tickers:
            raise CommandError(14, "Market Ticker required")
        for channel in channels:
            sub = _Sub(next(self._sids), channel, None if tickers is None else set(tickers))
            conn.subs[sub.sid] = sub
            self._reply(
                conn,
                {
                    "id": command_id,
                    "type": "subscribed",
                    "msg": {"channel": channel, "sid": sub.sid},
                },
            )
            if channel == "orderbook_delta":
                self._snapshots(conn, sub, tickers or [])
            elif channel == "ticker" and params.get("send_initial_snapshot"):
                for ticker in tickers if tickers is not None else self.exchange.market_tickers():
                    body = self.feed.ticker_body(ticker)
                    self._enqueue(conn, f'{{"type":"ticker","sid":{sub.sid},"msg":{body}}}')

    def _snapshots(self, conn: _Connection, sub: _Sub, tickers: list[str]) -> None:
        for ticker in tickers:
            sub.seq += 1
            sub.snapshot_version[ticker] = self.feed.version
            body = self.feed.snapshot_body(ticker)
            self._enqueue(
                conn,
                f'{{"type":"orderbook_snapshot","sid":{sub.sid},"seq":{sub.seq},"msg":{body}}}',
            )

    def _unsubscribe(self, conn: _Connection, command_id: int | None, params: Any) -> None:
        sids = params.get("sids") if isinstance(params, dict) else None
        if not sids or not isinstance(sids, list):
            raise CommandError(4, "Subscription IDs required")
        for sid in sids:
            if sid not in conn.subs:
                raise CommandError(7, "Unknown subscription ID")
        for sid in sids:
            sub = conn.subs.pop(sid)
            reply: dict[str, Any] = {"id": command_id, "sid": sid, "type": "unsubscribed"}
            if sub.channel == "orderbook_delta":
                sub.seq += 1
                reply["seq"] = sub.seq
            self._reply(conn, reply)

    def _update_target(self, conn: _Connection, params: Any) -> tuple[_Sub, str, list[str]]:
        """(subscription, action, tickers) of an update_subscription, validated."""
        if not params:
            raise CommandError(2, "Params required")
        sid, sids = params.get("sid"), params.get("sids")
        if sids is not None:
            if not isinstance(sids, list) or len(sids) != 1 or sid is not None:
                raise CommandError(12, "Exactly one subscription ID is required")
            sid = sids[0]
        if sid is None:
            raise CommandError(12, "Exactly one subscription ID is required")
        sub = conn.subs.get(sid)
        if sub is None:
            raise CommandError(7, "Unknown subscription ID")
        action = params.get("action")
        if not action:
            raise CommandError(15, "Action required")
        if action not in ("add_markets", "delete_markets", "get_snapshot") or (
            action == "get_snapshot" and sub.channel != "orderbook_delta"
        ):
            raise CommandError(13, "Unsupported action")
        tickers = self._tickers(params)
        if not tickers:
            raise CommandError(14, "Market Ticker required")
        if sub.tickers is None:
            raise CommandError(11, "Subscription has no market filter")
        return sub, action, tickers

    def _update(self, conn: _Connection, command_id: int | None, params: Any) -> None:
        sub, action, tickers = self._update_target(conn, params)
        sid = sub.sid
        assert sub.tickers is not None
        if action == "add_markets":
            new = [t for t in tickers if t not in sub.tickers]
            sub.tickers.update(new)
        elif action == "delete_markets":
            sub.tickers.difference_update(tickers)
            for ticker in tickers:
                sub.snapshot_version.pop(ticker, None)
            new = []
        else:
            new = [t for t in tickers if t in sub.tickers]
        reply: dict[str, Any] = {
            "id": command_id,
            "sid": sid,
            "type": "ok",
            "msg": {"market_tickers": sorted(sub.tickers)},
        }
        if sub.channel == "orderbook_delta":
            sub.seq += 1
            reply["seq"] = sub.seq
        self._reply(conn, reply)
        if sub.channel == "orderbook_delta":
            self._snapshots(conn, sub, new)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


__all__ = ["WS_PATH", "CommandError", "HubStats", "SentFrame", "StreamFaults", "StreamHub"]
