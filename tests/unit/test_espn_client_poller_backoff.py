"""The game-state poller's backoff: a league whose scoreboard fails (ESPN throttling with 429,
a 403 block, 5xx after the client's retries) is left out of the next polls for an
exponentially growing, jittered, capped delay; the other leagues keep their pace; the first
success ends the backoff. Driven on a fake clock, no database write involved."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from typing import Any

import pytest

from precog.api_connectors.espn_models import EspnRequestError, EspnUnavailableError, Scoreboard
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock

pytestmark = pytest.mark.module("espn_client")

LIVE, IDLE = 15.0, 300.0


class NoDatabase:
    """Empty boards change nothing, so the poller must never ask for a connection."""

    def connection(self) -> Any:
        raise AssertionError("no write expected")


class Boards:
    """Empty scoreboards; `failing` leagues raise `error` instead. Records request times."""

    def __init__(self, clock: FakeClock, error: Exception) -> None:
        self.clock = clock
        self.error = error
        self.failing: set[str] = set()
        self.requests: dict[str, list[float]] = {}

    async def get_scoreboard(self, league: str, *, dates: dt.date | None = None) -> Scoreboard:
        self.requests.setdefault(league, []).append(self.clock.monotonic())
        if league in self.failing:
            raise self.error
        return Scoreboard(league=league, games=())


def _poller(boards: Boards, clock: FakeClock, seed: int) -> GameStatePoller:
    return GameStatePoller(boards, NoDatabase(), leagues=["nfl", "nba"], live_interval=LIVE,
                           idle_interval=IDLE, clock=clock, rng=random.Random(seed))  # fmt: skip


async def _poll_for(poller: GameStatePoller, clock: FakeClock, seconds: float) -> None:
    """Poll every LIVE seconds of fake time (the loop's pace while games are live)."""
    end = clock.monotonic() + seconds
    while clock.monotonic() < end:
        await poller.poll_once()
        clock.advance(LIVE)


@pytest.mark.parametrize(
    "error",
    [
        EspnRequestError("ESPN throttled /nfl/scoreboard (429)", status=429),
        EspnRequestError("ESPN refused /nfl/scoreboard (403)", status=403),
        EspnUnavailableError("ESPN is failing (503)", status=503),
    ],
    ids=["429", "403", "5xx"],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_failing_league_backs_off_exponentially_up_to_the_idle_interval(
    error: Exception, seed: int
) -> None:
    clock = FakeClock()
    boards = Boards(clock, error)
    poller = _poller(boards, clock, seed)
    boards.failing = {"nfl"}
    start = clock.monotonic()
    await _poll_for(poller, clock, 3600)
    polls = len(boards.requests["nba"])
    assert boards.requests["nba"] == [start + LIVE * i for i in range(polls)]  # its own pace
    tries = boards.requests["nfl"]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    for index, gap in enumerate(gaps):
        ceiling = min(IDLE, LIVE * 2**index)
        # jitter: at least half the ceiling; polls happen every LIVE s, so one poll late at most
        assert ceiling / 2 <= gap <= ceiling + LIVE, (index, gaps)
    assert max(gaps) > IDLE / 2  # the cap was reached ...
    assert len(tries) < polls / 4  # ... so the failing league costs few requests
    assert poller.stats.backing_off == ["nfl"]
    assert poller.stats.league_failures == len(tries)
    assert poller.stats.failed_polls == len(tries)  # a poll that left nfl out did not fail

    boards.failing = set()
    await _poll_for(poller, clock, IDLE + LIVE)  # the next try succeeds ...
    recovered = len(boards.requests["nfl"])
    await _poll_for(poller, clock, 10 * LIVE)  # ... and nfl is polled at full pace again
    assert len(boards.requests["nfl"]) == recovered + 10
    assert poller.stats.backing_off == []


async def test_a_league_failing_again_after_a_success_starts_from_the_shortest_delay() -> None:
    clock = FakeClock()
    boards = Boards(clock, EspnRequestError("throttled (429)", status=429))
    poller = _poller(boards, clock, 5)
    boards.failing = {"nfl"}
    await _poll_for(poller, clock, 1200)  # backed off to the cap
    boards.failing = set()
    await _poll_for(poller, clock, IDLE + LIVE)
    boards.failing = {"nfl"}
    failed_at = clock.monotonic()
    await poller.poll_once()
    clock.advance(LIVE)
    await _poll_for(poller, clock, 2 * LIVE)
    retried = [t for t in boards.requests["nfl"] if t > failed_at]
    assert retried == [failed_at + LIVE]  # the first delay again (7.5-15 s), not the cap


class SwallowingBoards(Boards):
    """Its first request swallows the cancellation that reaches it (as Python 3.11's
    asyncio.wait_for can), then answers like any other."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, RuntimeError("unused"))
        self.waiting = asyncio.Event()
        self.swallowed = False

    async def get_scoreboard(self, league: str, *, dates: dt.date | None = None) -> Scoreboard:
        if not self.swallowed:
            self.waiting.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.swallowed = True
        return await super().get_scoreboard(league, dates=dates)


async def test_the_loop_stops_when_cancelled_even_if_a_request_swallowed_it() -> None:
    clock = FakeClock()
    boards = SwallowingBoards(clock)
    poller = _poller(boards, clock, 1)
    task = asyncio.create_task(poller.run())
    await asyncio.wait_for(boards.waiting.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, "the poller ran on after it was cancelled"
    assert task.cancelled()
    assert boards.swallowed
    assert poller.stats.polls == 1
