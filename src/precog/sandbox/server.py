"""The sandbox exchange's HTTP side: an aiohttp app serving Kalshi's REST API on loopback.

Routes live under ``/trade-api/v2`` with Kalshi's shapes, limits and error bodies; the
portfolio routes require signed requests (`precog.sandbox.auth`), the orderbook verifies
headers when they are sent. The ESPN simulator (`precog.sandbox.espn`) answers
``/apis/site/v2/sports/{sport}/{league}/scoreboard`` on the same port, behind the same fault
switches (endpoint name: that route template). Admin routes (outside the API,
unauthenticated, loopback only):

    GET/POST/DELETE /_admin/faults       read / change / clear the fault switches
    POST   /_admin/keys                  {"public_key": PEM, "key_id"?}  -> {"key_id"}
    DELETE /_admin/keys/{key_id}         revoke a key
    POST   /_admin/keys/rotate           {"old_key_id", "public_key", "new_key_id"?} -> {"key_id"}
    POST   /_admin/step                  {"steps"?: 1, "advance_seconds"?: 0}
    POST   /_admin/historical_cutoff     {"cutoff": RFC 3339 | null (90 days back)}
    GET    /_admin/stats                 request / fault / auth counters
    GET/POST/DELETE /_admin/ws           WebSocket fault switches (`precog.sandbox.stream`)

The WebSocket endpoint ``/trade-api/ws/v2`` (`StreamHub`) is served on the same port and
fed by the same simulation as REST.

`SandboxServer` runs in the caller's event loop (`await start()` / `await stop()`);
`SandboxThread` runs one on its own loop in a background thread, for synchronous callers
(tests that block on a subprocess, the CLI).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from precog.sandbox.auth import KeyRegistry, RequestAuthenticator, unauthorized_body
from precog.sandbox.espn import ESPN_PREFIX, SCOREBOARD_ROUTE, EspnSimulator
from precog.sandbox.exchange import SandboxExchange, SandboxRequestError
from precog.sandbox.faults import Fault, FaultConfigError, FaultSwitches
from precog.sandbox.stream import WS_PATH, StreamHub
from precog.utils.clock import Clock, SystemClock

API_PREFIX = "/trade-api/v2"
logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, separators=(",", ":")), content_type="application/json"
    )


def _query(request: web.Request) -> dict[str, str]:
    # Repeated keys (tickers=A&tickers=B) become the comma list Kalshi also accepts.
    out: dict[str, str] = {}
    for key in request.query:
        out[key] = ",".join(request.query.getall(key))
    return out


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the sandbox saw it (status 0 = connection reset)."""

    monotonic: float
    method: str
    endpoint: str
    path: str
    key_id: str | None
    status: int


class SandboxServer:
    """One sandbox exchange (simulation, keys, faults) served over HTTP on loopback."""

    def __init__(
        self,
        exchange: SandboxExchange | None = None,
        *,
        seed: int = 0,
        markets: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        max_skew: float = 30.0,
        tick_interval: float | None = None,
        ping_interval: float = 10.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.exchange = exchange or SandboxExchange(seed=seed, markets=markets, clock=self.clock)
        self.keys = KeyRegistry()
        self.authenticator = RequestAuthenticator(self.keys, clock=self.clock, max_skew=max_skew)
        self.faults = FaultSwitches(seed=self.exchange.seed)
        self.stream = StreamHub(self.exchange, self.authenticator, ping_interval=ping_interval)
        # ESPN games run on the exchange's simulated time, so /_admin/step moves both.
        self.espn = EspnSimulator(seed=self.exchange.seed, now=self.exchange.now)
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self.requests: dict[str, int] = {}
        self.log: deque[RequestRecord] = deque(maxlen=100_000)
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self._runner is None:
            raise RuntimeError("sandbox server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The REST base URL a client uses: ``http://127.0.0.1:<port>/trade-api/v2``."""
        return self.url + API_PREFIX

    @property
    def ws_url(self) -> str:
        """The WebSocket URL: ``ws://127.0.0.1:<port>/trade-api/ws/v2``."""
        return "ws" + self.url.removeprefix("http") + WS_PATH

    @property
    def espn_base_url(self) -> str:
        """The ESPN simulator's base URL: ``http://127.0.0.1:<port>/apis/site/v2/sports``."""
        return self.url + ESPN_PREFIX

    async def start(self) -> None:
        self.stream.bind(asyncio.get_running_loop())
        app = self.build_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = int(runner.addresses[0][1])  # the bound port when 0 was asked for
        self._runner = runner
        if self.tick_interval:
            self._ticker = asyncio.create_task(self._tick(self.tick_interval))
        logger.info("sandbox exchange listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._runner is not None:
            self.stream.drop_all()  # open sockets would hold up the shutdown
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick(self, interval: float) -> None:
        while True:
            await self.clock.sleep(interval)
            self.exchange.step()

    # -- app -------------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        ex = self.exchange
        routes: list[tuple[str, Callable[[web.Request], dict[str, Any]], bool]] = [
            ("/exchange/status", lambda r: ex.exchange_status(), False),
            ("/markets", lambda r: ex.list_markets(_query(r)), False),
            ("/markets/trades", lambda r: ex.list_trades(_query(r)), False),
            ("/markets/{ticker}", lambda r: ex.get_market(r.match_info["ticker"]), False),
            (
                "/markets/{ticker}/orderbook",
                lambda r: ex.orderbook(r.match_info["ticker"], _query(r)),
                False,
            ),
            ("/events", lambda r: ex.list_events(_query(r)), False),
            (
                "/events/{event_ticker}",
                lambda r: ex.get_event(r.match_info["event_ticker"], _query(r)),
                False,
            ),
            ("/series", lambda r: ex.list_series(_query(r)), False),
            (
                "/series/{series_ticker}",
                lambda r: ex.get_series(r.match_info["series_ticker"]),
                False,
            ),
            ("/portfolio/balance", lambda r: ex.balance_json(), True),
            ("/portfolio/positions", lambda r: ex.list_positions(_query(r)), True),
            ("/portfolio/fills", lambda r: ex.list_fills(_query(r)), True),
            ("/portfolio/settlements", lambda r: ex.list_settlements(_query(r)), True),
            ("/portfolio/orders", lambda r: ex.list_orders(_query(r)), True),
            ("/historical/cutoff", lambda r: ex.historical_cutoff_json(), False),
            ("/historical/fills", lambda r: ex.list_fills(_query(r), historical=True), True),
            ("/historical/orders", lambda r: ex.list_orders(_query(r), historical=True), True),
            (
                "/portfolio/orders/{order_id}",
                lambda r: ex.get_order(r.match_info["order_id"]),
                True,
            ),
        ]
        for path, query, auth in routes:
            app.router.add_get(API_PREFIX + path, self._endpoint(path, query, auth=auth))
        app.router.add_get(WS_PATH, self.stream.handle)
        app.router.add_get("/_admin/ws", self._get_ws)
        app.router.add_post("/_admin/ws", self._set_ws)
        app.router.add_delete("/_admin/ws", self._clear_ws)
        espn = self.espn
        app.router.add_get(
            SCOREBOARD_ROUTE,
            self._endpoint(
                SCOREBOARD_ROUTE,
                lambda r: espn.scoreboard(r.match_info["sport"], r.match_info["league"], _query(r)),
                auth=False,
            ),
        )
        app.router.add_get("/_admin/faults", self._get_faults)
        app.router.add_post("/_admin/faults", self._set_faults)
        app.router.add_delete("/_admin/faults", self._clear_faults)
        app.router.add_post("/_admin/keys", self._register_key)
        app.router.add_post("/_admin/keys/rotate", self._rotate_key)
        app.router.add_delete("/_admin/keys/{key_id}", self._revoke_key)
        app.router.add_post("/_admin/step", self._step)
        app.router.add_post("/_admin/historical_cutoff", self._set_cutoff)
        app.router.add_get("/_admin/stats", self._stats)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(API_PREFIX) and path != API_PREFIX + "/" and path.endswith("/"):
            # Kalshi redirects trailing slashes to the slashless form.
            location = path.rstrip("/") + (
                f"?{request.query_string}" if request.query_string else ""
            )
            raise web.HTTPMovedPermanently(location)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if path.startswith(API_PREFIX):
                return _json(
                    {
                        "error": {
                            "code": "not_found",
                            "message": "not found",
                            "details": f"no route {path}",
                        }
                    },
                    404,
                )
            raise
        except web.HTTPMethodNotAllowed:
            return _json(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": "method not allowed",
                        "details": request.method,
                    }
                },
                405,
            )

    def _endpoint(
        self, endpoint: str, query: Callable[[web.Request], dict[str, Any]], *, auth: bool
    ) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
            arrived = time.monotonic()
            status = 0
            try:
                response = await respond(request)
                status = response.status
                return response
            finally:
                key_id = request.headers.get("KALSHI-ACCESS-KEY")
                self.log.append(
                    RequestRecord(arrived, request.method, endpoint, request.path, key_id, status)
                )

        async def respond(request: web.Request) -> web.StreamResponse:
            fault, latency = self.faults.decide(endpoint)
            if latency > 0:
                await self.clock.sleep(latency)
            if fault is Fault.RESET:
                transport = request.transport
                if transport is not None:
                    transport.abort()
                raise asyncio.CancelledError  # nothing may be written to an aborted socket
            if fault is Fault.RATE_LIMITED:
                return _json({"error": "too many requests"}, 429)
            if fault is Fault.SERVER_ERROR:
                status = self.faults.state.error_status
                return _json(
                    {
                        "error": {
                            "code": "internal_server_error",
                            "message": "internal server error",
                            "details": "injected fault",
                        }
                    },
                    status,
                )
            needs_auth = auth or (
                endpoint.endswith("/orderbook") and "KALSHI-ACCESS-KEY" in request.headers
            )
            if needs_auth:
                reason = self.authenticator.check(request.method, request.path, request.headers)
                if reason is not None:
                    return _json(unauthorized_body(reason), 401)
            try:
                body = query(request)
            except SandboxRequestError as exc:
                return _json(exc.body(), exc.status)
            if fault is Fault.MALFORMED:
                text = json.dumps(body)
                return web.Response(
                    status=200, text=text[: max(1, len(text) // 2)], content_type="application/json"
                )
            return _json(body)

        return handle

    # -- admin -----------------------------------------------------------------------------------
    async def _get_faults(self, request: web.Request) -> web.Response:
        return _json(self.faults.state.as_json())

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            settings = await request.json()
            if not isinstance(settings, dict):
                raise FaultConfigError("body must be a JSON object")
            state = self.faults.configure(**settings)
        except (FaultConfigError, json.JSONDecodeError) as exc:
            return _json(
                {
                    "error": {
                        "code": "invalid_parameters",
                        "message": "invalid parameters",
                        "details": str(exc),
                    }
                },
                400,
            )
        return _json(state.as_json())

    def _ws_state(self) -> dict[str, Any]:
        return {
            "faults": self.stream.faults.as_json(),
            "stats": dict(vars(self.stream.stats)),
            "connections": self.stream.connections,
            "subscriptions": self.stream.subscriptions(),
        }

    async def _get_ws(self, request: web.Request) -> web.Response:
        return _json(self._ws_state())

    async def _set_ws(self, request: web.Request) -> web.Response:
        try:
            settings = await request.json()
            if not isinstance(settings, dict):
                raise ValueError("body must be a JSON object")
            self.stream.configure(**settings)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            return _json(
                {
                    "error": {
                        "code": "invalid_parameters",
                        "message": "invalid parameters",
                        "details": str(exc),
                    }
                },
                400,
            )
        return _json(self._ws_state())

    async def _clear_ws(self, request: web.Request) -> web.Response:
        self.stream.reset()
        return _json(self._ws_state())

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self.faults.reset()
        return _json(self.faults.state.as_json())

    async def _admin_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return body

    async def _register_key(self, request: web.Request) -> web.Response:
        from precog.api_connectors.kalshi_auth import AuthConfigError

        body = await self._admin_body(request)
        try:
            key_id = self.keys.register(str(body.get("public_key", "")), body.get("key_id"))
        except AuthConfigError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return _json({"key_id": key_id}, 201)

    async def _rotate_key(self, request: web.Request) -> web.Response:
        from precog.api_connectors.kalshi_auth import AuthConfigError

        body = await self._admin_body(request)
        try:
            key_id = self.keys.rotate(
                str(body.get("old_key_id", "")),
                str(body.get("public_key", "")),
                body.get("new_key_id"),
            )
        except AuthConfigError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return _json({"key_id": key_id}, 201)

    async def _revoke_key(self, request: web.Request) -> web.Response:
        if not self.keys.revoke(request.match_info["key_id"]):
            raise web.HTTPNotFound(text="unknown key id")
        return _json({"revoked": request.match_info["key_id"]})

    async def _step(self, request: web.Request) -> web.Response:
        body = await self._admin_body(request) if request.can_read_body else {}
        steps = int(body.get("steps", 1))
        self.exchange.advance(float(body.get("advance_seconds", 0)), steps=steps)
        return _json({"steps": self.exchange.steps, "now": self.exchange.now().isoformat()})

    async def _set_cutoff(self, request: web.Request) -> web.Response:
        raw = (await self._admin_body(request)).get("cutoff")
        try:
            when = None if raw is None else dt.datetime.fromisoformat(str(raw))
        except ValueError:
            raise web.HTTPBadRequest(text="cutoff must be an RFC 3339 date-time or null") from None
        if when is not None and when.tzinfo is None:
            raise web.HTTPBadRequest(text="cutoff must carry a UTC offset")
        self.exchange.set_historical_cutoff(when)
        return _json(self.exchange.historical_cutoff_json())

    async def _stats(self, request: web.Request) -> web.Response:
        return _json(
            {
                "requests": dict(self.requests),
                "faults": {f.value: n for f, n in self.faults.injected.items()},
                "auth_accepted": self.authenticator.accepted,
                "auth_refused": {r.value: n for r, n in self.authenticator.refused.items()},
            }
        )


class SandboxThread:
    """A `SandboxServer` on its own event loop in a daemon thread (for synchronous callers)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="precog-sandbox", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"sandbox did not start within {timeout}s")
        if self._error is not None:
            raise self._error
        return self.server

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"sandbox did not stop within {timeout}s")


__all__ = ["API_PREFIX", "RequestRecord", "SandboxServer", "SandboxThread"]
