"""The game-state poller: ESPN scoreboards of the configured leagues -> `game_states` history.

One `poll_once()` fetches every configured league's scoreboard (one failing league is
counted and the others still recorded), keeps the games whose tracked state changed since
the last accepted observation (an in-memory check, so unchanged games cost no database
round trip) and writes them through `crud_operations.sports.record_games` (teams, venues, SCD2
versions) in one transaction. `run()` repeats that until cancelled: every
`live_interval` seconds while any game is live, `idle_interval` otherwise.

A league whose scoreboard fails (429 throttling, a 403 block, 5xx that outlived the client's
retries) is left out of the next polls for an exponential backoff with jitter (the project's
`RetryPolicy`: from `live_interval`, doubling, at most `idle_interval`), as ESPN's etiquette
asks (reference B8); its first success ends the backoff. The other leagues keep their pace.

No version is lost when the database is briefly down: observations that could not be
written stay queued in order (bounded; `stats.dropped_observations` counts any overflow) and
are written, with their original receive times, by the next poll that reaches the database.
Clock and sleep are injected (`Clock`), so tests drive the loop on a fake clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from precog.api_connectors.espn_models import LEAGUES, Game, Scoreboard
from precog.database.crud_operations.sports import record_games, tracked_state
from precog.database.errors import (
    ConcurrencyConflictError,
    DatabaseUnavailableError,
    PoolExhaustedError,
)
from precog.errors import PrecogError
from precog.schedulers.periodic import raise_if_cancelled
from precog.utils.clock import Clock, SystemClock
from precog.utils.retry import RetryPolicy

logger = logging.getLogger(__name__)

# Failures after which the same write can succeed later: keep the observations queued.
TRANSIENT_DB_ERRORS = (DatabaseUnavailableError, PoolExhaustedError, ConcurrencyConflictError)
MAX_PENDING_GAMES = 50_000
FOLLOW_FOR = dt.timedelta(hours=36)  # how long an unfinished game is followed off the board


class ScoreboardSource(Protocol):
    async def get_scoreboard(self, league: str, *, dates: dt.date | None = None) -> Scoreboard: ...


class Database(Protocol):
    def connection(self) -> Any: ...  # an async context manager yielding a connection


@dataclass
class PollerStats:
    """Counters since start; `last_error` is the most recent failure's message."""

    polls: int = 0
    failed_polls: int = 0  # a poll in which any league or the write failed
    league_failures: int = 0
    games_seen: int = 0
    games_changed: int = 0  # sent to the database (changed since last observation)
    versions_written: int = 0  # new game_states versions (first or changed)
    parse_errors: int = 0  # malformed events skipped
    write_failures: int = 0
    dropped_observations: int = 0
    pending_games: int = 0
    live_games: int = 0
    last_poll_at: dt.datetime | None = None
    last_error: str | None = None
    per_league: dict[str, int] = field(default_factory=dict)  # games in the last poll
    backing_off: list[str] = field(default_factory=list)  # leagues left out after failures


@dataclass(frozen=True)
class PollResult:
    games: tuple[Game, ...]
    changed: int
    written: int
    failed_leagues: tuple[str, ...]
    write_error: str | None


def _us_day(game: Game) -> dt.date:
    # ESPN's `dates` day is the US day (reference B9); Eastern standard time is close enough.
    assert game.start_time is not None
    return (game.start_time - dt.timedelta(hours=5)).date()


class GameStatePoller:
    """Polls ESPN for `leagues` and records game states; see the module docstring."""

    name = "games"  # its place in the collection service's summary

    def __init__(
        self,
        source: ScoreboardSource,
        database: Database,
        *,
        leagues: Sequence[str],
        live_interval: float = 15.0,
        idle_interval: float = 300.0,
        clock: Clock | None = None,
        max_pending: int = MAX_PENDING_GAMES,
        rng: random.Random | None = None,
    ) -> None:
        if not leagues:
            raise ValueError("at least one league is needed")
        unknown = sorted(set(leagues) - set(LEAGUES))
        if unknown:
            raise ValueError(f"unknown leagues {unknown}; use any of {', '.join(LEAGUES)}")
        if live_interval <= 0 or idle_interval < live_interval:
            raise ValueError("intervals must be positive and idle_interval >= live_interval")
        self.source = source
        self.database = database
        self.leagues = tuple(leagues)
        self.live_interval = live_interval
        self.idle_interval = idle_interval
        self.clock: Clock = clock or SystemClock()
        self.max_pending = max_pending
        self.stats = PollerStats()
        self.games: dict[tuple[str, str], Game] = {}  # latest view, for live displays
        self._accepted: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._pending: deque[tuple[dt.datetime, list[Game]]] = deque()
        self._pending_games = 0
        # consecutive failures and the monotonic time of the next try, per failing league
        self._backoff = RetryPolicy(
            base_delay=live_interval,
            max_delay=idle_interval,
            rng=rng or random.Random(),  # noqa: S311 (jitter, not security)
        )
        self._league_failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}

    @classmethod
    def from_settings(
        cls, source: ScoreboardSource, database: Database, settings: Any, **kwargs: Any
    ) -> GameStatePoller:
        """From `settings.data_sources.espn` (leagues, live/idle poll seconds)."""
        return cls(
            source,
            database,
            leagues=settings.leagues,
            live_interval=settings.live_poll_seconds,
            idle_interval=settings.idle_poll_seconds,
            **kwargs,
        )

    # -- views -----------------------------------------------------------------------------
    @property
    def live_games(self) -> list[Game]:
        return sorted((g for g in self.games.values() if g.is_live), key=lambda g: g.event_id)

    def summary(self) -> dict[str, Any]:
        """The counters, for the collection service's summary."""
        return asdict(self.stats)

    def next_interval(self) -> float:
        return self.live_interval if self.stats.live_games else self.idle_interval

    # -- one poll --------------------------------------------------------------------------
    async def poll_once(self) -> PollResult:
        """Fetch every league, queue the changed games, write everything queued.

        Each league's games are observed at their receive time (ESPN sends no per-event
        timestamp), which becomes `row_start_ts` of any new version.
        """
        started = self.clock.now()
        games: list[Game] = []
        failed: list[str] = []
        changed = 0
        for league in self.leagues:
            if self.clock.monotonic() < self._retry_at.get(league, float("-inf")):
                continue  # backing off after failures: its last view is kept
            try:
                league_games = await self._league_games(league)
            except PrecogError as exc:  # the ESPN errors and any other expected failure
                failed.append(league)
                self.stats.league_failures += 1
                self.stats.last_error = f"{league}: {exc}"
                wait = self._back_off(league)
                logger.warning(
                    "ESPN %s scoreboard failed: %s; next try in %.0f s", league, exc, wait
                )
                continue
            self._league_failures.pop(league, None)
            self._retry_at.pop(league, None)
            received = self.clock.now()
            current = {(g.league, g.event_id): g for g in league_games}
            self.games = {k: g for k, g in self.games.items() if k[0] != league} | current
            # Forget games that left the board: memory stays bounded by the boards' size (a
            # game that comes back is simply compared by the database again).
            self._accepted = {
                k: v for k, v in self._accepted.items() if k[0] != league or k in current
            }
            league_changed = self._changed(league_games)
            if league_changed:
                self._enqueue(received, league_changed)
            changed += len(league_changed)
            self.stats.per_league[league] = len(league_games)
            games.extend(league_games)
        self.stats.games_seen += len(games)
        self.stats.backing_off = sorted(self._retry_at)
        self.stats.live_games = sum(1 for g in self.games.values() if g.is_live)
        written, write_error = await self._flush()
        self.stats.polls += 1
        self.stats.last_poll_at = started
        if failed or write_error:
            self.stats.failed_polls += 1
        return PollResult(tuple(games), changed, written, tuple(failed), write_error)

    def _back_off(self, league: str) -> float:
        """Leave `league` out for the next backoff delay; returns the delay in seconds."""
        failures = self._league_failures.get(league, 0)
        self._league_failures[league] = failures + 1
        wait = self._backoff.delay(failures)
        self._retry_at[league] = self.clock.monotonic() + wait
        return wait

    async def _league_games(self, league: str) -> list[Game]:
        """Today's board, plus the day of any unfinished game that left it.

        ESPN's default scoreboard moves to the next day at the US day boundary; a game still
        running (or not yet seen running) then would never be seen final without following
        it to its own day. Only games that started within FOLLOW_FOR are followed.
        """
        board = await self.source.get_scoreboard(league)
        self.stats.parse_errors += len(board.errors)
        found = {g.event_id: g for g in board.games}
        since = self.clock.now() - FOLLOW_FOR
        left = [
            g
            for (lg, event_id), g in self.games.items()
            if lg == league
            and event_id not in found
            and (g.is_live or g.status == "pre")
            and g.start_time is not None
            and g.start_time >= since
        ]
        for day in sorted({_us_day(g) for g in left}):
            earlier = await self.source.get_scoreboard(league, dates=day)
            self.stats.parse_errors += len(earlier.errors)
            wanted = {g.event_id for g in left}
            found.update((g.event_id, g) for g in earlier.games if g.event_id in wanted)
        return list(found.values())

    def _changed(self, games: list[Game]) -> list[Game]:
        changed = []
        for game in games:
            key = (game.league, game.event_id)
            state = tracked_state(game)
            if self._accepted.get(key) != state:
                self._accepted[key] = state  # queued now, written in order later
                changed.append(game)
        self.stats.games_changed += len(changed)
        return changed

    def _enqueue(self, observed: dt.datetime, games: list[Game]) -> None:
        self._pending.append((observed, games))
        self._pending_games += len(games)
        while self._pending_games > self.max_pending and len(self._pending) > 1:
            _, dropped = self._pending.popleft()
            self._pending_games -= len(dropped)
            self.stats.dropped_observations += len(dropped)
            self._accepted.clear()  # the dropped states must be compared afresh
        self.stats.pending_games = self._pending_games

    async def _flush(self) -> tuple[int, str | None]:
        written = 0
        while self._pending:
            observed, games = self._pending[0]
            try:
                async with self.database.connection() as conn:
                    result = await record_games(conn, games, observed)
            except TRANSIENT_DB_ERRORS as exc:
                self.stats.write_failures += 1
                self.stats.last_error = f"database: {exc}"
                logger.warning("game states kept for a later write: %s", exc)
                return written, str(exc)
            except Exception as exc:  # this batch can never be written: report, move on
                self._pending.popleft()
                self._pending_games -= len(games)
                self.stats.write_failures += 1
                self.stats.dropped_observations += len(games)
                self.stats.last_error = f"database: {exc}"
                for game in games:
                    self._accepted.pop((game.league, game.event_id), None)
                logger.error("game states dropped: %s", exc)
                self.stats.pending_games = self._pending_games
                return written, str(exc)
            self._pending.popleft()
            self._pending_games -= len(games)
            written += result.written
            self.stats.versions_written += result.written
        self.stats.pending_games = self._pending_games
        return written, None

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until cancelled; a failed poll is counted and the loop goes on."""
        while True:
            started = self.clock.monotonic()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop collection: count and go on
                self.stats.failed_polls += 1
                self.stats.last_error = f"poll: {exc!r}"
                logger.exception("game-state poll failed")
            raise_if_cancelled()
            spent = self.clock.monotonic() - started
            await self.clock.sleep(max(0.0, self.next_interval() - spent))


__all__ = ["GameStatePoller", "PollResult", "PollerStats", "ScoreboardSource"]
