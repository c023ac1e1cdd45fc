"""The environment guard pinned down exactly: each refusal word for word (it is the whole
guidance the user gets), database names from URLs and libpq conninfo strings with quotes and
odd characters, and masking of passwords that contain ':'. Written to kill the mutants
`make mutation MODULE=environment` found surviving (names in the commit that added it)."""

from __future__ import annotations

import pytest

from precog.config.environment import (
    Environment,
    EnvironmentSafetyError,
    KalshiMode,
    check_database_guard,
    check_kalshi_safety,
    mask_url_password,
    resolve_database_target,
)
from precog.errors import ConfigError

pytestmark = pytest.mark.module("config_loader")


@pytest.mark.parametrize(
    ("env", "mode", "message"),
    [
        (
            Environment.TEST,
            KalshiMode.LIVE,
            "refusing KALSHI_MODE=live with PRECOG_ENV=test: tests never trade real money; "
            "use sandbox or demo",
        ),
        (
            Environment.PROD,
            KalshiMode.SANDBOX,
            "refusing KALSHI_MODE=sandbox with PRECOG_ENV=prod: production must use a real "
            "exchange; set KALSHI_MODE=live (or demo)",
        ),
        (
            Environment.DEV,
            KalshiMode.LIVE,
            "refusing KALSHI_MODE=live with PRECOG_ENV=dev: set "
            "PRECOG_LIVE_CONFIRMED=yes to use the real-money exchange outside prod",
        ),
    ],
)
def test_kalshi_refusals_word_for_word(env: Environment, mode: KalshiMode, message: str) -> None:
    with pytest.raises(EnvironmentSafetyError) as info:
        check_kalshi_safety(env, mode, {})
    assert str(info.value) == message


def test_database_refusals_word_for_word() -> None:
    with pytest.raises(EnvironmentSafetyError) as info:
        check_database_guard(Environment.TEST, "precog_dev")
    assert str(info.value) == (
        "refusing database 'precog_dev' with PRECOG_ENV=test: tests only use databases "
        "named *_test or *_test_<suffix>; fix DATABASE_URL"
    )
    with pytest.raises(EnvironmentSafetyError) as info:
        check_database_guard(Environment.DEV, "precog_test")
    assert str(info.value) == (
        "refusing test database 'precog_test' with PRECOG_ENV=dev: set PRECOG_ENV=test "
        "or point DATABASE_URL at a non-test database"
    )


@pytest.mark.parametrize(
    ("url", "dbname"),
    [
        ("postgresql://u@h/Xdb", "Xdb"),  # only the leading '/' is cut
        ("host=h dbname='precog_X'", "precog_X"),  # only the quotes are cut
        ("host=h dbname='precog_test'", "precog_test"),
        ("host=h dbname=plain", "plain"),
    ],
)
def test_database_name_from_urls_and_conninfo(url: str, dbname: str) -> None:
    assert resolve_database_target({"DATABASE_URL": url}).dbname == dbname


def test_a_conninfo_without_dbname_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_database_target({"DATABASE_URL": "host=localhost user=u password=s3cret"})
    assert str(info.value) == (
        "DATABASE_URL names no database: host=localhost user=u password=***; "
        "add one, e.g. postgresql://user@host/precog_dev"
    )


def test_an_unparsable_url_is_refused_in_one_line_without_its_password() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_database_target({"DATABASE_URL": "postgresql://u:s3cret@[::1/db"})
    assert str(info.value) == "DATABASE_URL is not a valid URL: postgresql://u:***@[::1/db"


def test_a_password_with_colons_is_masked_whole() -> None:
    assert mask_url_password("postgresql://bob:pa:ss:word@h:5432/db") == (
        "postgresql://bob:***@h:5432/db"
    )
