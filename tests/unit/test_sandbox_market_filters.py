"""GET /markets filters of the sandbox exchange: the settled and updated windows and
mve_filter are applied, and the combinations Kalshi refuses are refused (reference A4.2).

The sandbox is not one of the eleven modules, so these tests declare none."""

from __future__ import annotations

import datetime as dt

import pytest

from precog.sandbox.exchange import SandboxExchange, SandboxRequestError
from precog.utils.clock import FakeClock

WALL = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _exchange() -> SandboxExchange:
    ex = SandboxExchange(seed=5, markets=30, clock=FakeClock(wall=WALL))
    ex.advance(3 * 3600, steps=3)  # the markets that closed in the past are finalized now
    return ex


def _tickers(ex: SandboxExchange, **q: str) -> set[str]:
    return {m["ticker"] for m in ex.list_markets({"limit": "1000", **q})["markets"]}


def _ts(when: dt.datetime) -> str:
    return str(int(when.timestamp()))


def test_settled_window_selects_by_settlement_time() -> None:
    ex = _exchange()
    settled = {t: m for t, m in ex.markets.items() if m.settlement_ts is not None}
    assert len(settled) >= 2
    assert _tickers(ex, min_settled_ts=_ts(WALL.replace(year=2099))) == set()
    times = sorted(m.settlement_ts for m in settled.values() if m.settlement_ts)
    middle = times[len(times) // 2]
    expected = {t for t, m in settled.items() if m.settlement_ts and m.settlement_ts >= middle}
    assert _tickers(ex, min_settled_ts=_ts(middle)) == expected
    assert _tickers(ex, status="settled", max_settled_ts=_ts(middle)) == {
        t for t, m in settled.items() if m.settlement_ts and m.settlement_ts <= middle
    }
    # markets that never settled are outside every settled window
    assert _tickers(ex, min_settled_ts="0") == set(settled)


def test_min_updated_ts_selects_recently_updated_markets() -> None:
    ex = _exchange()
    cutoff = max(m.updated_time for m in ex.markets.values())
    newest = {t for t, m in ex.markets.items() if m.updated_time >= cutoff}
    assert 0 < len(newest) < len(ex.markets)
    assert _tickers(ex, min_updated_ts=_ts(cutoff)) == newest
    series = next(iter(ex.markets.values())).series_ticker
    assert _tickers(ex, min_updated_ts="0", mve_filter="exclude", series_ticker=series) == {
        t for t, m in ex.markets.items() if m.series_ticker == series
    }


def test_mve_filter_splits_combo_markets_from_the_rest() -> None:
    ex = _exchange()
    combo = sorted(ex.markets)[3]
    ex.markets[combo].mve_collection_ticker = "KXMVESIM"
    assert _tickers(ex, mve_filter="only") == {combo}
    assert _tickers(ex, mve_filter="exclude") == set(ex.markets) - {combo}
    shown = ex.get_market(combo)["market"]
    assert shown["mve_collection_ticker"] == "KXMVESIM"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"status": "settled", "min_updated_ts": "1"}, "min_updated_ts can only be combined"),
        ({"min_updated_ts": "1", "min_close_ts": "1"}, "min_updated_ts can only be combined"),
        ({"min_updated_ts": "1", "mve_filter": "only"}, "min_updated_ts can only be combined"),
        ({"min_updated_ts": "1", "event_ticker": "E"}, "min_updated_ts can only be combined"),
        ({"status": "open", "min_settled_ts": "1"}, "settled timestamp filters work only"),
        ({"status": "closed", "max_created_ts": "1"}, "created timestamp filters work only"),
        ({"min_created_ts": "1", "max_close_ts": "9"}, "mutually exclusive"),
        ({"min_settled_ts": "1", "min_close_ts": "1"}, "mutually exclusive"),
        ({"mve_filter": "both"}, "mve_filter must be only or exclude"),
        ({"min_settled_ts": "soon"}, "min_settled_ts must be an integer"),
    ],
)
def test_refused_combinations_are_400(query: dict[str, str], detail: str) -> None:
    with pytest.raises(SandboxRequestError) as info:
        _exchange().list_markets(query)
    assert info.value.status == 400
    assert detail in info.value.body()["error"]["details"]
