"""The sandbox's live/historical split (issue 11, defect 9, reference A4.11/A4.13/A4.15):
fills and finished orders older than the cutoff move from /portfolio/* to /historical/*.

The sandbox is not one of the eleven modules, so these tests declare none."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from precog.sandbox.exchange import HISTORY_WINDOW, SandboxExchange, SandboxRequestError
from precog.utils.clock import FakeClock

WALL = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _all(method: Any, key: str, **q: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = method({**q, **({"cursor": cursor} if cursor else {})})
        out.extend(page[key])
        cursor = page["cursor"]
        if not cursor:
            return out


def test_the_cutoff_splits_fills_and_finished_orders() -> None:
    ex = SandboxExchange(seed=4, markets=40, clock=FakeClock(wall=WALL))
    ex.advance(600, steps=30)
    assert ex.historical_cutoff_json()["trades_created_ts"] == (
        (ex.now() - HISTORY_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert _all(lambda q: ex.list_fills(q, historical=True), "fills") == []  # all recent
    times = sorted({f.created_time for f in ex.fills})
    ex.historical_cutoff = times[len(times) // 2]
    live = _all(ex.list_fills, "fills", limit="7")
    old = _all(lambda q: ex.list_fills(q, historical=True), "fills", limit="3")
    assert {f["fill_id"] for f in live} | {f["fill_id"] for f in old} == {
        f.fill_id for f in ex.fills
    }
    assert not {f["fill_id"] for f in live} & {f["fill_id"] for f in old}
    assert all(f["created_time"] < ex.historical_cutoff_json()["trades_created_ts"] for f in old)
    live_orders = _all(ex.list_orders, "orders", limit="50")
    old_orders = _all(lambda q: ex.list_orders(q, historical=True), "orders")
    assert len(live_orders) + len(old_orders) == len(ex.orders)
    assert old_orders
    assert all(o["status"] != "resting" for o in old_orders)  # resting orders stay live
    with pytest.raises(SandboxRequestError, match="between 1 and 200"):
        ex.list_fills({"limit": "201"}, historical=True)
