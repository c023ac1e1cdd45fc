"""espn_client with its real collaborators: cassettes through the real client over loopback
HTTP, game states through the SCD2 writer into PostgreSQL, and the poller against the
sandbox's ESPN simulator (fast while games are live, only changes written)."""

from __future__ import annotations

import datetime as dt

import pytest

from precog.api_connectors.espn_client import EspnClient
from precog.database import crud_operations as crud
from precog.database.connection import Database
from precog.database.crud_operations.sports import find_game_history, record_games
from precog.schedulers.game_state_poller import GameStatePoller
from precog.utils.clock import FakeClock
from tests.plugins.espn_cassettes import GAMEDAY, CassetteServer, load_cassette
from tests.plugins.sandbox import SandboxFactory

pytestmark = pytest.mark.module("espn_client")

T0 = dt.datetime(2026, 10, 4, 18, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2026, 11, 7, 19, 0, tzinfo=dt.UTC)


async def test_every_cassette_through_the_real_client_over_loopback(
    cassette_server: CassetteServer,
) -> None:
    names = [*GAMEDAY.values(), *(f"{lg}_empty_day" for lg in GAMEDAY), "ncaaf_odd_fields"]
    url = await cassette_server(*names)
    async with EspnClient(url, requests_per_second=1000) as client:
        for league, name in GAMEDAY.items():
            board = await client.get_scoreboard(
                league, dates=load_cassette(name)["request"]["query"]["dates"]
            )
            assert len(board.games) == (6 if league == "nhl" else 7)
            assert board.games[-1].status == "postponed"
            empty = load_cassette(f"{league}_empty_day")["request"]["query"]["dates"]
            assert (await client.get_scoreboard(league, dates=empty)).games == ()
        odd = await client.get_scoreboard("ncaaf", dates="20261010")
        assert len(odd.games) == 2
        assert client.stats.parse_errors == 3
        assert client.stats.requests == 13
        assert client.stats.retries == 0


async def test_game_states_through_the_scd2_writer(
    cassette_server: CassetteServer, db_pool: Database
) -> None:
    url = await cassette_server(GAMEDAY["nfl"], "ncaaf_odd_fields")
    async with EspnClient(url, requests_per_second=1000) as client:
        nfl = await client.get_scoreboard("nfl", dates="20261004")
        odd = await client.get_scoreboard("ncaaf", dates="20261010")
    games = [*nfl.games, *odd.games]
    async with db_pool.connection() as conn:
        first = await record_games(conn, games, T0)
        again = await record_games(conn, games, T0 + dt.timedelta(seconds=15))
        assert (first.created, first.updated) == (9, 0)
        assert (again.written, again.unchanged) == (0, 9)

        live = nfl.games[1]
        moved = [g for g in nfl.games if g is not live]
        # the live game's clock ran: exactly one new version
        from dataclasses import replace

        ticked = replace(live, clock_seconds=live.clock_seconds - 20, display_clock="4:42")  # type: ignore[operator]
        third = await record_games(conn, [*moved, ticked], T0 + dt.timedelta(seconds=30))
        assert (third.updated, third.unchanged) == (1, 6)

        history = await find_game_history(conn, live.event_id)
        assert history is not None
        assert [v.display_clock for v in history.versions] == ["5:02", "4:42"]
        assert history.versions[0].row_end_ts == history.versions[1].row_start_ts
        assert history.versions[1].row_current_ind
        current = history.versions[1]
        assert current.situation == {
            "down": 2, "distance": 6, "yard_line": 33, "possession": "away", "red_zone": False,
            "home_timeouts": 3, "away_timeouts": 2,
        }  # fmt: skip
        assert history.teams[current.home_team_id or 0].abbreviation == "RIV"
        assert current.home_score == 7

        teams = await crud.list_teams(conn, "nfl")
        assert len(teams) == 14
        tbd = await crud.get_current_game_state(conn, "ncaaf", "401723021")
        assert tbd is not None
        assert tbd.away_team_id is None
        assert tbd.venue_id is None
        assert tbd.home_score is None
        assert await find_game_history(conn, "does-not-exist") is None


async def test_college_rankings_are_kept_per_poll_season_and_week(
    cassette_server: CassetteServer, db_pool: Database
) -> None:
    """ESPN's curatedRank of ranked teams (1-25) becomes team_rankings rows; unranked (99)
    and professional teams get none; a later sighting updates `ranked_at`, not a copy."""
    url = await cassette_server(GAMEDAY["ncaaf"], GAMEDAY["ncaab"], GAMEDAY["nfl"])
    async with EspnClient(url, requests_per_second=1000) as client:
        boards = [
            await client.get_scoreboard(
                league, dates=load_cassette(GAMEDAY[league])["request"]["query"]["dates"]
            )
            for league in ("ncaaf", "ncaab", "nfl")
        ]
    games = [g for board in boards for g in board.games]
    later = T0 + dt.timedelta(minutes=5)
    async with db_pool.connection() as conn:
        await record_games(conn, games, T0)
        await record_games(conn, boards[0].games, later)
        football = await crud.list_rankings(conn, "espn_curated", 2026, 5)
        basketball = await crud.list_rankings(conn, "espn_curated", 2026, None)
        cur = await conn.execute(
            "SELECT t.league, t.abbreviation, r.rank FROM team_rankings r "
            "JOIN teams t ON t.team_id = r.team_id ORDER BY t.league, r.rank"
        )
        ranked = await cur.fetchall()
    assert ranked == [
        ("ncaab", "CAP", 3), ("ncaab", "HOM", 7), ("ncaab", "RIV", 12),
        ("ncaaf", "CAP", 3), ("ncaaf", "HOM", 7), ("ncaaf", "RIV", 12),
    ]  # fmt: skip
    assert [(r.rank, r.week, r.ranked_at) for r in football] == [
        (3, 5, later),
        (7, 5, later),
        (12, 5, later),
    ]
    assert [(r.rank, r.week, r.ranked_at) for r in basketball] == [
        (3, None, T0),
        (7, None, T0),
        (12, None, T0),
    ]


async def test_poller_records_the_simulated_saturday_and_slows_down_when_idle(
    sandbox_factory: SandboxFactory, db_pool: Database
) -> None:
    clock = FakeClock(wall=SATURDAY)
    sandbox = sandbox_factory(markets=5, clock=clock)
    async with EspnClient(sandbox.server.espn_base_url, requests_per_second=1000) as client:
        poller = GameStatePoller(
            client, db_pool, leagues=["ncaaf", "nhl"], live_interval=15, idle_interval=300,
            clock=clock,
        )  # fmt: skip
        first = await poller.poll_once()
        assert not first.failed_leagues
        assert first.write_error is None
        assert poller.stats.live_games > 0
        assert poller.next_interval() == 15
        n_games = len(first.games)
        assert first.written == n_games == first.changed

        unchanged = await poller.poll_once()  # simulated time stood still
        assert (unchanged.changed, unchanged.written) == (0, 0)

        clock.advance(60)  # the simulator runs on the same clock
        moved = await poller.poll_once()
        running = [g for g in moved.games if g.status == "in_progress"]  # clocks moved
        assert moved.changed >= len(running) > 0
        assert moved.written == moved.changed

        clock.advance(17 * 3600)  # Sunday noon: Saturday is over, Sunday not begun
        await poller.poll_once()
        assert poller.stats.live_games == 0
        assert poller.next_interval() == 300
        assert poller.stats.polls == 4
        assert poller.stats.failed_polls == 0

    saturday = {g.event_id for g in first.games}
    async with db_pool.connection() as conn:
        states = [
            s for s in await crud.list_current_game_states(conn) if s.espn_event_id in saturday
        ]
        # games still live when the board moved to Sunday were followed to their final
        assert len(states) == n_games
        assert {s.status for s in states} <= {"final", "final_ot", "postponed"}
        total = await conn.execute("SELECT count(*) FROM game_states")
        row = await total.fetchone()
        assert row is not None
        assert row[0] == poller.stats.versions_written
