"""Running a coroutine from synchronous code (the CLI): the one place that picks the loop.

psycopg's async mode cannot run on Windows' default ProactorEventLoop, so on Windows every
run uses a SelectorEventLoop; elsewhere it is asyncio's default loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop class this platform needs (None: asyncio's default)."""
    return asyncio.SelectorEventLoop if sys.platform == "win32" else None


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory()` names."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that ask a long-running command to stop gracefully on this platform:
    Ctrl-C and SIGTERM everywhere, and Ctrl-Break on Windows (the one console event a
    parent can send to a child's process group there)."""
    if sys.platform == "win32":
        return (signal.SIGINT, signal.SIGTERM, signal.SIGBREAK)
    return (signal.SIGINT, signal.SIGTERM)


def call_on_stop_signal(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` in `loop` when a stop signal arrives (from the main thread)."""
    for sig in stop_signals():
        try:
            loop.add_signal_handler(sig, callback)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(sig, lambda _sig, _frame: loop.call_soon_threadsafe(callback))
