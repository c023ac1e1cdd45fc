"""The root of Precog's exception tree and the exit code each branch maps to.

Errors are classified by what the operator or caller must do::

    PrecogError                     exit 1  runtime failure: look at the message, retry later
    ├── ConfigError                 exit 2  fix the configuration or the command line
    ├── EnvironmentSafetyError      exit 3  the environment/target combination is refused
    └── ServiceUnavailableError     exit 4  an external service (database, exchange) is down

Areas add their own subtrees under these (for example the Kalshi client's errors in
`precog.api_connectors.errors`). The CLI prints `str(error)` as one line and exits with
`error.exit_code`; it never shows a traceback for a `PrecogError`.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_SAFETY = 3
EXIT_UNAVAILABLE = 4


class PrecogError(Exception):
    """Base of every error Precog raises on purpose."""

    exit_code: ClassVar[int] = EXIT_RUNTIME


class ConfigError(PrecogError):
    """Configuration, environment variable or command-line input is invalid."""

    exit_code: ClassVar[int] = EXIT_USAGE


class EnvironmentSafetyError(PrecogError):
    """The requested environment / target combination is refused by the safety rules."""

    exit_code: ClassVar[int] = EXIT_SAFETY


class ServiceUnavailableError(PrecogError):
    """An external service Precog depends on cannot be reached."""

    exit_code: ClassVar[int] = EXIT_UNAVAILABLE
