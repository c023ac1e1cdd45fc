"""EspnClient and the scoreboard parser over httpx.MockTransport: statuses, odd fields,
request shape, retries only for timeouts/5xx/truncation, the polite rate limit."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest

from precog.api_connectors.espn_client import (
    PUBLIC_BASE_URL,
    USER_AGENT,
    EspnClient,
    espn_base_url,
    format_dates,
)
from precog.api_connectors.espn_models import (
    EspnParseError,
    EspnRequestError,
    EspnUnavailableError,
    map_status,
    parse_scoreboard,
)
from precog.errors import ServiceUnavailableError
from precog.utils.clock import FakeClock
from precog.utils.retry import RetryPolicy
from tests.plugins.espn_cassettes import GAMEDAY, cassette_transport, load_cassette

pytestmark = pytest.mark.module("espn_client")

BASE = "http://espn.test/apis/site/v2/sports"
GAMEDAY_STATUSES = [
    "pre", "in_progress", "halftime", "end_of_period", "final", "final_ot", "postponed",
]  # fmt: skip


def _client(transport: httpx.AsyncBaseTransport, clock: FakeClock | None = None) -> EspnClient:
    return EspnClient(
        BASE,
        requests_per_second=1.0,
        clock=clock or FakeClock(),
        retry_policy=RetryPolicy(max_retries=3, rng=random.Random(1)),
        transport=transport,
    )


def _status(name: str, state: str, completed: bool, detail: str = "") -> dict[str, Any]:
    return {"type": {"name": name, "state": state, "completed": completed, "detail": detail}}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (_status("STATUS_SCHEDULED", "pre", False), "pre"),
        (_status("STATUS_IN_PROGRESS", "in", False), "in_progress"),
        (_status("STATUS_HALFTIME", "in", False), "halftime"),
        (_status("STATUS_END_PERIOD", "in", False), "end_of_period"),
        (_status("STATUS_FINAL", "post", True, "Final"), "final"),
        (_status("STATUS_FINAL", "post", True, "Final/OT"), "final_ot"),
        (_status("STATUS_FINAL", "post", True, "Final/2OT"), "final_ot"),
        (_status("STATUS_FINAL_OT", "post", True), "final_ot"),
        (_status("STATUS_FINAL", "post", True, "Final/SO"), "final_ot"),
        # `completed` is the only proof of a final: without it, not final
        (_status("STATUS_FINAL", "post", False, "Final"), "end_of_period"),
        (_status("STATUS_POSTPONED", "post", False), "postponed"),
        (_status("STATUS_CANCELED", "post", False), "cancelled"),
        (_status("STATUS_DELAYED", "pre", False), "delayed"),
        (_status("STATUS_RAIN_DELAY", "in", False), "delayed"),
        (_status("STATUS_SUSPENDED", "in", False), "suspended"),
        (_status("STATUS_SOMETHING_NEW", "in", False), "in_progress"),
        (_status("STATUS_SOMETHING_NEW", "post", True), "final"),
        (_status("STATUS_SOMETHING_NEW", "post", False), "suspended"),
        (_status("", "", False), "pre"),
        ({}, "pre"),
        (None, "pre"),
        ("STATUS_FINAL", "pre"),
    ],
)
def test_status_mapping(status: Any, expected: str) -> None:
    assert map_status(status) == expected


@pytest.mark.parametrize("league", sorted(GAMEDAY))
async def test_every_gameday_cassette_parses_every_status(league: str) -> None:
    query = load_cassette(GAMEDAY[league])["request"]["query"]
    async with _client(cassette_transport(GAMEDAY[league])) as client:
        board = await client.get_scoreboard(league, dates=query["dates"])
    expected = [s for s in GAMEDAY_STATUSES if not (league == "nhl" and s == "halftime")]
    assert [g.status for g in board.games] == expected
    assert board.errors == ()
    live = board.games[1]
    assert live.is_live
    assert live.period == 1
    assert live.clock_seconds == Decimal("302.00")
    assert live.display_clock == "5:02"
    # the in-progress game lists the away team first: sides come from homeAway
    assert live.home.team is not None
    assert live.home.team.abbreviation == "RIV"
    expected_score = {"nfl": (7, 10), "ncaaf": (7, 10), "nhl": (1, 2)}.get(league, (28, 31))
    assert (live.home.score, live.away.score) == expected_score
    final, overtime = board.games[-3], board.games[-2]
    assert final.completed
    assert final.home.winner is True
    assert final.away.winner is False
    assert overtime.status == "final_ot"
    assert overtime.home.score is not None
    assert overtime.away.score is not None
    assert overtime.home.score > overtime.away.score
    assert sum(overtime.home.linescores) == overtime.home.score
    assert board.games[0].start_time == dt.datetime.fromisoformat(
        load_cassette(GAMEDAY[league])["response"]["body"]["events"][0]["date"].replace(
            "Z", "+00:00"
        )
    )
    assert board.games[0].season_type == "regular"
    if league in ("nfl", "ncaaf"):
        situation = live.situation
        assert situation is not None
        assert (situation.down, situation.distance, situation.yard_line) == (2, 6, 33)
        assert situation.possession == "away"
        assert (situation.home_timeouts, situation.away_timeouts) == (3, 2)
        assert situation.red_zone is False
        assert board.week == 5
    else:
        assert live.situation is None
    if league in ("ncaaf", "ncaab"):
        assert board.games[0].home.rank == 7
        assert board.games[0].away.rank is None  # 99 = unranked


async def test_odd_fields_parse_to_none_and_malformed_events_are_counted() -> None:
    async with _client(cassette_transport("ncaaf_odd_fields")) as client:
        board = await client.get_scoreboard("ncaaf", dates="20261010")
        assert client.stats.parse_errors == 3
    assert len(board.errors) == 3
    assert {e.event_id for e in board.errors} == {"401723099", "401723098", None}
    tbd, odd = board.games
    assert tbd.venue is None
    assert tbd.away.team is None
    assert tbd.home.score is None
    assert tbd.away.score is None
    assert odd.status == "in_progress"  # unknown name, state "in"
    assert odd.situation is not None
    assert odd.situation.down is None  # -1 between plays
    assert odd.situation.possession is None


async def test_empty_day() -> None:
    async with _client(cassette_transport("wnba_empty_day")) as client:
        board = await client.get_scoreboard("wnba", dates=dt.date(2026, 12, 25))
    assert board.games == ()
    assert board.day == dt.date(2026, 12, 25)


async def test_request_shape_groups_limit_and_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"events": []})

    async with _client(httpx.MockTransport(handle)) as client:
        await client.get_scoreboard("ncaaf", dates=(dt.date(2026, 9, 5), dt.date(2026, 9, 6)))
        await client.get_scoreboard("ncaab", groups=None, limit=200)
        await client.get_scoreboard("nhl", groups="7")
        with pytest.raises(ValueError, match="between 1 and 500"):
            await client.get_scoreboard("nba", limit=501)
        with pytest.raises(ValueError, match="unknown league 'xfl'"):
            await client.get_scoreboard("xfl")
    assert seen[0].url.path == "/apis/site/v2/sports/football/college-football/scoreboard"
    assert dict(seen[0].url.params) == {"dates": "20260905-20260906", "groups": "80"}
    assert dict(seen[1].url.params) == {"limit": "200"}
    assert seen[1].url.path.endswith("/basketball/mens-college-basketball/scoreboard")
    assert dict(seen[2].url.params) == {"groups": "7"}
    assert seen[0].headers["User-Agent"] == USER_AGENT
    assert seen[0].headers["Accept"] == "application/json"
    assert len(seen) == 3


def test_dates_and_base_url() -> None:
    assert format_dates(dt.date(2026, 1, 2)) == "20260102"
    assert format_dates("20260102-20260105") == "20260102-20260105"
    for bad in ("2026-01-02", "20261302", "20260105-20260102", ""):
        with pytest.raises(ValueError, match="dates must be"):
            format_dates(bad)
    with pytest.raises(ValueError, match="ends before it starts"):
        format_dates((dt.date(2026, 1, 5), dt.date(2026, 1, 2)))
    assert espn_base_url({}) == PUBLIC_BASE_URL
    assert espn_base_url({"ESPN_API_BASE_URL": "http://x/y"}) == "http://x/y"


@pytest.mark.parametrize("status", [400, 403, 404, 429])
async def test_a_4xx_is_a_typed_error_at_once(status: int) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"code": status, "message": "Failed to get events"})

    async with _client(httpx.MockTransport(handle)) as client:
        with pytest.raises(EspnRequestError) as caught:
            await client.get_scoreboard("nfl")
        assert client.stats.retries == 0
    assert calls == 1
    assert caught.value.status == status
    assert not isinstance(caught.value, ServiceUnavailableError)


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(503, text="upstream"),
        lambda r: httpx.Response(200, content=b'{"events": [{"id"'),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
    ],
    ids=["5xx", "truncated", "timeout", "connect"],
)
async def test_timeouts_5xx_and_truncation_are_retried_then_unavailable(failure: Any) -> None:
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            result: httpx.Response = failure(request)
            return result
        return httpx.Response(200, json={"events": []})

    clock = FakeClock()
    async with _client(httpx.MockTransport(handle), clock) as client:
        board = await client.get_scoreboard("nba")
        assert client.stats.retries == 2
    assert board.games == ()

    def always(request: httpx.Request) -> httpx.Response:
        result: httpx.Response = failure(request)
        return result

    async with _client(httpx.MockTransport(always), clock) as client:
        with pytest.raises(EspnUnavailableError) as caught:
            await client.get_scoreboard("nba")
        assert client.stats.requests == 4  # 1 + 3 retries
    assert caught.value.exit_code == 4


async def test_a_body_that_is_not_a_scoreboard_is_a_parse_error() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=["not", "a", "board"]))
    async with _client(transport) as client:
        with pytest.raises(EspnParseError, match="body is not a JSON object"):
            await client.get_scoreboard("nhl")
    with pytest.raises(EspnParseError, match="events is not a list"):
        parse_scoreboard({"events": {"id": "1"}}, "nhl")


async def test_the_rate_limit_waits_instead_of_failing() -> None:
    clock = FakeClock()
    sent: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(clock.monotonic())
        return httpx.Response(200, json={"events": []})

    async with _client(httpx.MockTransport(handle), clock) as client:
        for _ in range(4):
            await client.get_scoreboard("nhl")
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps == pytest.approx([1.0, 1.0, 1.0])


async def test_client_must_be_open() -> None:
    client = _client(cassette_transport())
    with pytest.raises(Exception, match="not open"):
        await client.get_scoreboard("nfl")
    with pytest.raises(ValueError, match="base URL"):
        EspnClient("ftp://espn")
    with pytest.raises(ValueError, match="positive"):
        EspnClient(BASE, requests_per_second=0)
