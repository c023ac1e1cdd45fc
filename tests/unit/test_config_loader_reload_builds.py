"""How `reload()` schedules builds, counted: a lone caller builds exactly once, never waits,
and gets that build; callers that arrive while a build runs wait for it (no second build
beside it) and then share one new build, started after theirs began.

The environment is the loader's `environ` parameter; the double given here counts builds
(each build lists the environment once) and can hold one build until released. A thread
"waits in reload" when it is blocked in the condition wait that `reload` calls (read from
its stack, nothing of the loader is patched). Every wait is bounded and fails the test when
it runs out. Written for the mutants of ConfigLoader.reload that `make mutation
MODULE=config_loader` left alive."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from precog.config.config_loader import ConfigLoader
from tests.plugins.waiting import eventually

pytestmark = pytest.mark.module("config_loader")

TIMEOUT = 10.0  # seconds; only reached when the loader is broken


class BuildCountingEnviron(Mapping[str, str]):
    """An environment that counts the builds reading it and can hold one of them."""

    def __init__(self, values: Mapping[str, str], limit: int) -> None:
        self.values = dict(values)
        self.limit = limit  # more builds than this: reload is looping
        self.builds = 0
        self.hold: int | None = None  # the number of the build to hold
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:  # a build lists the environment once
        with self._lock:
            self.builds += 1
            number = self.builds
        assert number <= self.limit, f"build number {number}: reload loops"
        if number == self.hold:
            self.held.set()
            assert self.release.wait(TIMEOUT), "the held build was never released"
        return iter(list(self.values))

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def __len__(self) -> int:
        return len(self.values)


def waits_in_reload(thread: threading.Thread) -> bool:
    """The thread is blocked in the condition wait that `reload` itself calls."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code.co_name != "wait" or frame.f_back is None:
        return False
    return "reload" in frame.f_back.f_code.co_name


class Caller(threading.Thread):
    """Calls `reload` once; keeps what it returned or raised."""

    def __init__(self, loader: ConfigLoader, name: str) -> None:
        super().__init__(name=name, daemon=True)  # a mutant may leave it waiting forever
        self.loader = loader
        self.outcome: Any = None

    def run(self) -> None:
        try:
            self.outcome = self.loader.reload()
        except BaseException as exc:  # reported to the test thread
            self.outcome = exc


def settle(caller: Caller) -> Any:
    """Wait until the caller returned or waits in reload; a waiting lone caller fails."""
    eventually(lambda: not caller.is_alive() or waits_in_reload(caller), timeout=TIMEOUT)
    assert not caller.is_alive(), f"{caller.name} waits although no other build runs"
    if isinstance(caller.outcome, BaseException):
        raise caller.outcome
    return caller.outcome


def test_a_lone_reload_builds_once_and_returns_that_build() -> None:
    environ = BuildCountingEnviron({"PRECOG__TRADING__MIN_EDGE": "0.11"}, limit=3)
    loader = ConfigLoader(None, environ)
    assert environ.builds == 1
    for number, edge in ((2, "0.12"), (3, "0.13")):
        environ.values["PRECOG__TRADING__MIN_EDGE"] = edge
        caller = Caller(loader, f"reload {number}")
        caller.start()
        settings = settle(caller)
        assert environ.builds == number
        assert str(settings.trading.min_edge) == edge
        assert loader.settings is settings


def test_callers_during_a_build_wait_then_share_one_later_build() -> None:
    environ = BuildCountingEnviron({}, limit=4)
    loader = ConfigLoader(None, environ)  # build 1
    environ.hold = 2
    first = Caller(loader, "first")
    later = [Caller(loader, "second"), Caller(loader, "third")]
    first.start()
    try:
        assert environ.held.wait(TIMEOUT), "the first reload did not start a build"
        for caller in later:
            caller.start()

        def waiting_or_building() -> bool:
            return environ.builds > 2 or all(waits_in_reload(caller) for caller in later)

        eventually(waiting_or_building, timeout=TIMEOUT, what="later callers wait or build")
        assert environ.builds == 2, "a build started beside the running one"
    finally:
        environ.release.set()
        for caller in (first, *later):
            if caller.ident is not None:
                caller.join(TIMEOUT)
    assert not [c.name for c in (first, *later) if c.is_alive()], "a reload did not return"

    outcomes: list[Any] = [first.outcome, *(caller.outcome for caller in later)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    held, second, third = outcomes
    assert environ.builds == 3  # the held one, then one for both later callers
    assert second is not held  # a build that started after their call...
    assert third is second  # ...shared by both
    assert loader.settings is second


def test_waiting_in_reload_is_recognised() -> None:
    # the detector itself: a reload held in its build is not waiting, one behind it is
    environ = BuildCountingEnviron({}, limit=3)
    loader = ConfigLoader(None, environ)
    environ.hold = 2
    first, second = Caller(loader, "first"), Caller(loader, "second")
    first.start()
    try:
        assert environ.held.wait(TIMEOUT)
        assert not waits_in_reload(first)
        second.start()
        eventually(lambda: waits_in_reload(second), timeout=TIMEOUT, what="second waits")
    finally:
        environ.release.set()
        for caller in (first, second):
            if caller.ident is not None:
                caller.join(TIMEOUT)
    assert not waits_in_reload(second)
