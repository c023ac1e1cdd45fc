"""The environment rules: which environment we run in, which Kalshi target and database it
may use, and the safety matrix that refuses dangerous combinations (SPEC §3).

Everything here is a pure function of an environment mapping (normally `os.environ`), so the
rules are testable without touching the process environment.

Environment variables read here:

    PRECOG_ENV               dev | test | staging | prod (default dev)
    KALSHI_MODE              sandbox | demo | live; overrides data_sources.kalshi.mode
    PRECOG_LIVE_CONFIRMED    yes: allow KALSHI_MODE=live outside prod
    PRECOG_PROD_CONFIRMED    yes: allow destructive operations in staging/prod
    DATABASE_URL             use this server; otherwise an embedded PostgreSQL
    PRECOG_HOME              data directory of the embedded server and logs (default ~/.precog)
    <ENV>_KALSHI_API_KEY, <ENV>_KALSHI_PRIVATE_KEY_PATH   credentials, prefix = PRECOG_ENV

Safety matrix: test + live is refused; prod + sandbox is refused; live outside prod needs
PRECOG_LIVE_CONFIRMED=yes. Database guard: PRECOG_ENV=test only uses `*_test` (or
`*_test_<suffix>`) databases, every other environment refuses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from precog.errors import ConfigError, EnvironmentSafetyError

CONFIRMED = "yes"
_E = TypeVar("_E", bound=StrEnum)


class Environment(StrEnum):
    """Where Precog runs; each environment has its own database and credentials."""

    DEV = "dev"
    TEST = "test"
    STAGING = "staging"
    PROD = "prod"


class KalshiMode(StrEnum):
    """Which Kalshi exchange Precog talks to."""

    SANDBOX = "sandbox"  # the local sandbox exchange on loopback
    DEMO = "demo"  # Kalshi's demo exchange (fake money)
    LIVE = "live"  # the real exchange (real money)


def _choice(enum: type[_E], variable: str, raw: str) -> _E:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ConfigError(f"{variable}={raw!r} is not valid; use one of: {allowed}") from None


def resolve_environment(environ: Mapping[str, str]) -> Environment:
    """PRECOG_ENV as an `Environment` (default dev); anything else is a ConfigError."""
    raw = environ.get("PRECOG_ENV", "")
    return Environment.DEV if not raw.strip() else _choice(Environment, "PRECOG_ENV", raw)


def resolve_kalshi_mode(environ: Mapping[str, str], configured: KalshiMode) -> KalshiMode:
    """KALSHI_MODE from the environment if set, else the configured mode."""
    raw = environ.get("KALSHI_MODE", "")
    return configured if not raw.strip() else _choice(KalshiMode, "KALSHI_MODE", raw)


def _confirmed(environ: Mapping[str, str], variable: str) -> bool:
    return environ.get(variable, "").strip().lower() == CONFIRMED


def check_kalshi_safety(env: Environment, mode: KalshiMode, environ: Mapping[str, str]) -> None:
    """Refuse the environment/Kalshi-mode combinations of the safety matrix."""
    if env is Environment.TEST and mode is KalshiMode.LIVE:
        raise EnvironmentSafetyError(
            "refusing KALSHI_MODE=live with PRECOG_ENV=test: tests never trade real money; "
            "use sandbox or demo"
        )
    if env is Environment.PROD and mode is KalshiMode.SANDBOX:
        raise EnvironmentSafetyError(
            "refusing KALSHI_MODE=sandbox with PRECOG_ENV=prod: production must use a real "
            "exchange; set KALSHI_MODE=live (or demo)"
        )
    live_unconfirmed = not _confirmed(environ, "PRECOG_LIVE_CONFIRMED")
    if mode is KalshiMode.LIVE and env is not Environment.PROD and live_unconfirmed:
        raise EnvironmentSafetyError(
            f"refusing KALSHI_MODE=live with PRECOG_ENV={env}: set "
            "PRECOG_LIVE_CONFIRMED=yes to use the real-money exchange outside prod"
        )


def database_name(env: Environment) -> str:
    """The database of an environment: precog_dev, precog_test, ..."""
    return f"precog_{env.value}"


# `_test` at the end, or one per-worker suffix after it (precog_test_gw0).
_TEST_DATABASE = re.compile(r".+_test(_[a-z0-9]+)?", re.IGNORECASE)


def is_test_database(name: str) -> bool:
    """True for databases reserved for tests: `*_test` or `*_test_<suffix>`."""
    return _TEST_DATABASE.fullmatch(name) is not None


def check_database_guard(env: Environment, dbname: str) -> None:
    """Tests use only test databases; nothing else ever uses one."""
    if env is Environment.TEST and not is_test_database(dbname):
        raise EnvironmentSafetyError(
            f"refusing database {dbname!r} with PRECOG_ENV=test: tests only use databases "
            "named *_test or *_test_<suffix>; fix DATABASE_URL"
        )
    if env is not Environment.TEST and is_test_database(dbname):
        raise EnvironmentSafetyError(
            f"refusing test database {dbname!r} with PRECOG_ENV={env}: set PRECOG_ENV=test "
            "or point DATABASE_URL at a non-test database"
        )


def require_destructive_allowed(env: Environment, environ: Mapping[str, str], action: str) -> None:
    """Destructive operations in staging/prod need PRECOG_PROD_CONFIRMED=yes."""
    if env in (Environment.STAGING, Environment.PROD) and not _confirmed(
        environ, "PRECOG_PROD_CONFIRMED"
    ):
        raise EnvironmentSafetyError(
            f"refusing to {action} with PRECOG_ENV={env}: set PRECOG_PROD_CONFIRMED=yes to confirm"
        )


def kalshi_credential_variables(env: Environment) -> tuple[str, str]:
    """Names of the variables holding this environment's Kalshi API key and key file path."""
    prefix = env.value.upper()
    return f"{prefix}_KALSHI_API_KEY", f"{prefix}_KALSHI_PRIVATE_KEY_PATH"


def precog_home(environ: Mapping[str, str]) -> Path:
    """PRECOG_HOME (default ~/.precog), with `~` expanded."""
    return Path(environ.get("PRECOG_HOME", "").strip() or "~/.precog").expanduser()


_PASSWORD_PARAM = re.compile(r"(password=)('[^']*'|[^&\s]*)", re.IGNORECASE)
_USERINFO_PASSWORD = re.compile(r"(://[^/?#@:]*:).*@")  # fallback: over-mask, never leak


def mask_url_password(url: str) -> str:
    """The URL (or libpq conninfo) with any password replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparsable URL
        masked = _USERINFO_PASSWORD.sub(r"\1***@", url)
    else:
        masked = url
        if password is not None:
            user, _, host = parts.netloc.rpartition("@")
            username = user.split(":", 1)[0]
            masked = urlunsplit(parts._replace(netloc=f"{username}:***@{host}"))
    return _PASSWORD_PARAM.sub(r"\1***", masked)


@dataclass(frozen=True)
class DatabaseTarget:
    """The database Precog will use: a server URL, or the embedded server under PRECOG_HOME."""

    url: str | None
    dbname: str
    embedded_home: Path | None

    def describe(self) -> str:
        """One line for humans and logs; never contains a password."""
        if self.url is not None:
            return mask_url_password(self.url)
        return f"embedded PostgreSQL in {self.embedded_home}, database {self.dbname}"


_CONNINFO_DBNAME = re.compile(r"(?:^|\s)dbname=('[^']*'|\S+)")


def _url_dbname(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"DATABASE_URL is not a valid URL: {mask_url_password(url)}") from None
    if parts.scheme:
        name = unquote(parts.path.lstrip("/"))
    else:  # libpq key=value conninfo
        match = _CONNINFO_DBNAME.search(url)
        name = match.group(1).strip("'") if match else ""
    if not name:
        raise ConfigError(
            f"DATABASE_URL names no database: {mask_url_password(url)}; "
            "add one, e.g. postgresql://user@host/precog_dev"
        )
    return name


def resolve_database_target(environ: Mapping[str, str]) -> DatabaseTarget:
    """DATABASE_URL if set, else the embedded server with the environment's database."""
    url = environ.get("DATABASE_URL", "").strip()
    if url:
        return DatabaseTarget(url=url, dbname=_url_dbname(url), embedded_home=None)
    env = resolve_environment(environ)
    return DatabaseTarget(
        url=None, dbname=database_name(env), embedded_home=precog_home(environ) / "postgres"
    )


def ensure_test_database_target(environ: Mapping[str, str]) -> None:
    """Called at test-session start: PRECOG_ENV must be test and the target a test database."""
    env = resolve_environment(environ)
    if env is not Environment.TEST:
        raise EnvironmentSafetyError(f"tests must run with PRECOG_ENV=test, found {env}")
    check_database_guard(env, resolve_database_target(environ).dbname)
