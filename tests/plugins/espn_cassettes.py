"""ESPN scoreboard cassettes (tests/cassettes/espn): loading and replay without network.

`load_cassette(name)` reads one file; `cassette_transport(*names)` is an
`httpx.MockTransport` answering each cassette's request (path + query) with its response
(unit tests); the `cassette_server` fixture serves the same cassettes over loopback HTTP
(aiohttp) so integration tests go through the real client and HTTP stack:

    async def test_x(cassette_server):
        url = await cassette_server("nfl_gameday", "nba_empty_day")   # ESPN base URL
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

CASSETTE_DIR = Path(__file__).resolve().parent.parent / "cassettes" / "espn"
PREFIX = "/apis/site/v2/sports"
GAMEDAY = {lg: f"{lg}_gameday" for lg in ("nfl", "ncaaf", "nba", "ncaab", "nhl", "wnba")}


def load_cassette(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASSETTE_DIR / f"{name}.json").read_text())
    return data


def cassette_names() -> list[str]:
    return sorted(p.stem for p in CASSETTE_DIR.glob("*.json"))


def _key(path: str, query: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return path.rstrip("/"), tuple(sorted(query.items()))


def _table(names: tuple[str, ...]) -> dict[Any, dict[str, Any]]:
    table = {}
    for name in names:
        cassette = load_cassette(name)
        request = cassette["request"]
        table[_key(PREFIX + request["path"], request["query"])] = cassette["response"]
    return table


def cassette_transport(*names: str) -> httpx.MockTransport:
    """Answers the cassettes' requests; anything else is a 404 (a test asking wrongly)."""
    table = _table(names)

    def handle(request: httpx.Request) -> httpx.Response:
        response = table.get(_key(request.url.path, dict(request.url.params)))
        if response is None:
            return httpx.Response(404, json={"code": 404, "message": "no cassette"})
        return httpx.Response(response["status"], json=response["body"])

    return httpx.MockTransport(handle)


CassetteServer = Callable[..., Awaitable[str]]


@pytest.fixture
async def cassette_server() -> AsyncIterator[CassetteServer]:
    runners: list[web.AppRunner] = []

    async def start(*names: str) -> str:
        table = _table(names)

        async def handle(request: web.Request) -> web.Response:
            response = table.get(_key(request.path, dict(request.query)))
            if response is None:
                return web.json_response({"code": 404, "message": "no cassette"}, status=404)
            return web.json_response(response["body"], status=response["status"])

        app = web.Application()
        app.router.add_get(PREFIX + "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}{PREFIX}"

    yield start
    for runner in runners:
        await runner.cleanup()


__all__ = [
    "CASSETTE_DIR",
    "GAMEDAY",
    "CassetteServer",
    "cassette_names",
    "cassette_server",
    "cassette_transport",
    "load_cassette",
]
