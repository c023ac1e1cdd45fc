"""The environment rules of SPEC §3: PRECOG_ENV, the Kalshi safety matrix, the database guard,
destructive-operation confirmation, credential names and database targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from precog.config.environment import (
    DatabaseTarget,
    Environment,
    KalshiMode,
    check_database_guard,
    check_kalshi_safety,
    database_name,
    ensure_test_database_target,
    is_test_database,
    kalshi_credential_variables,
    mask_url_password,
    precog_home,
    require_destructive_allowed,
    resolve_database_target,
    resolve_environment,
    resolve_kalshi_mode,
)
from precog.errors import ConfigError, EnvironmentSafetyError

pytestmark = pytest.mark.module("config_loader")

E, M = Environment, KalshiMode

# The whole matrix, written out: (env, mode) -> allowed without / with PRECOG_LIVE_CONFIRMED=yes.
SAFETY_MATRIX = {
    (E.DEV, M.SANDBOX): (True, True),
    (E.DEV, M.DEMO): (True, True),
    (E.DEV, M.LIVE): (False, True),
    (E.TEST, M.SANDBOX): (True, True),
    (E.TEST, M.DEMO): (True, True),
    (E.TEST, M.LIVE): (False, False),
    (E.STAGING, M.SANDBOX): (True, True),
    (E.STAGING, M.DEMO): (True, True),
    (E.STAGING, M.LIVE): (False, True),
    (E.PROD, M.SANDBOX): (False, False),
    (E.PROD, M.DEMO): (True, True),
    (E.PROD, M.LIVE): (True, True),
}


@pytest.mark.parametrize("env", list(E))
@pytest.mark.parametrize("mode", list(M))
@pytest.mark.parametrize("confirmed", [False, True])
def test_kalshi_safety_matrix(env: Environment, mode: KalshiMode, confirmed: bool) -> None:
    environ = {"PRECOG_LIVE_CONFIRMED": "yes"} if confirmed else {}
    allowed = SAFETY_MATRIX[(env, mode)][confirmed]  # KeyError: a combination not written out
    if allowed:
        check_kalshi_safety(env, mode, environ)
    else:
        with pytest.raises(EnvironmentSafetyError, match=f"KALSHI_MODE={mode}"):
            check_kalshi_safety(env, mode, environ)


@pytest.mark.parametrize("value", ["no", "true", "1", "YES please", ""])
def test_live_confirmation_must_be_exactly_yes(value: str) -> None:
    with pytest.raises(EnvironmentSafetyError, match="PRECOG_LIVE_CONFIRMED=yes"):
        check_kalshi_safety(E.DEV, M.LIVE, {"PRECOG_LIVE_CONFIRMED": value})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, E.DEV),
        ({"PRECOG_ENV": ""}, E.DEV),
        ({"PRECOG_ENV": "test"}, E.TEST),
        ({"PRECOG_ENV": " Staging "}, E.STAGING),
        ({"PRECOG_ENV": "PROD"}, E.PROD),
    ],
)
def test_resolve_environment(environ: dict[str, str], expected: Environment) -> None:
    assert resolve_environment(environ) is expected


def test_invalid_environment_names_variable_and_allowed_values() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_environment({"PRECOG_ENV": "production"})
    assert str(caught.value) == (
        "PRECOG_ENV='production' is not valid; use one of: dev, test, staging, prod"
    )


def test_kalshi_mode_env_overrides_config() -> None:
    assert resolve_kalshi_mode({}, M.DEMO) is M.DEMO
    assert resolve_kalshi_mode({"KALSHI_MODE": "live"}, M.SANDBOX) is M.LIVE
    with pytest.raises(ConfigError, match=r"KALSHI_MODE='paper'.*sandbox, demo, live"):
        resolve_kalshi_mode({"KALSHI_MODE": "paper"}, M.SANDBOX)


@pytest.mark.parametrize(
    ("name", "is_test"),
    [
        ("precog_test", True),
        ("precog_test_gw0", True),
        ("precog_test_GW12", True),
        ("other_test", True),
        ("precog_dev", False),
        ("precog_prod", False),
        ("test", False),
        ("_test", False),
        ("precog_testing", False),
        ("precog_test_", False),
        ("precog_test_gw0_extra", False),
        ("precog_test_prod-copy", False),
        ("latest", False),
    ],
)
def test_is_test_database(name: str, is_test: bool) -> None:
    assert is_test_database(name) is is_test


@pytest.mark.parametrize("env", list(E))
@pytest.mark.parametrize("dbname", ["precog_test", "precog_test_gw1", "precog_dev", "precog_prod"])
def test_database_guard(env: Environment, dbname: str) -> None:
    allowed = (env is E.TEST) == dbname.startswith("precog_test")
    if allowed:
        check_database_guard(env, dbname)
    else:
        with pytest.raises(EnvironmentSafetyError, match=dbname):
            check_database_guard(env, dbname)


def test_database_names_per_environment() -> None:
    assert [database_name(env) for env in E] == [
        "precog_dev",
        "precog_test",
        "precog_staging",
        "precog_prod",
    ]
    for env in E:  # each environment's own database passes its own guard
        check_database_guard(env, database_name(env))


@pytest.mark.parametrize("env", list(E))
@pytest.mark.parametrize("confirmation", [None, "yes", "no"])
def test_destructive_operations(env: Environment, confirmation: str | None) -> None:
    environ = {} if confirmation is None else {"PRECOG_PROD_CONFIRMED": confirmation}
    refused = env in (E.STAGING, E.PROD) and confirmation != "yes"
    if refused:
        with pytest.raises(EnvironmentSafetyError) as caught:
            require_destructive_allowed(env, environ, "reset the database")
        assert "reset the database" in str(caught.value)
        assert "PRECOG_PROD_CONFIRMED=yes" in str(caught.value)
    else:
        require_destructive_allowed(env, environ, "reset the database")


def test_credential_variables_follow_environment() -> None:
    assert kalshi_credential_variables(E.DEV) == (
        "DEV_KALSHI_API_KEY",
        "DEV_KALSHI_PRIVATE_KEY_PATH",
    )
    assert kalshi_credential_variables(E.PROD) == (
        "PROD_KALSHI_API_KEY",
        "PROD_KALSHI_PRIVATE_KEY_PATH",
    )


def test_precog_home() -> None:
    assert precog_home({}) == Path("~/.precog").expanduser()
    assert precog_home({"PRECOG_HOME": "/srv/precog"}) == Path("/srv/precog")
    assert precog_home({"PRECOG_HOME": "~/x"}) == Path.home() / "x"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:hunter2@db:5432/precog_dev", "postgresql://u:***@db:5432/precog_dev"),
        ("postgresql://u:p%40ss@db/precog_dev", "postgresql://u:***@db/precog_dev"),
        ("postgresql://u:p@ss@db/precog_dev", "postgresql://u:***@db/precog_dev"),
        ("postgresql://u@db/precog_dev", "postgresql://u@db/precog_dev"),
        (
            "postgresql://db/x?password=hunter2&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("host=db dbname=x password=hunter2", "host=db dbname=x password=***"),
        ("host=db password='two words' dbname=x", "host=db password=*** dbname=x"),
        ("postgresql://u:hunter2@[::1/x", "postgresql://u:***@[::1/x"),
    ],
)
def test_mask_url_password(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked
    assert "hunter2" not in mask_url_password(url)


def test_database_target_from_url() -> None:
    target = resolve_database_target({"DATABASE_URL": "postgresql://u:pw@db/precog_test_gw3"})
    assert target == DatabaseTarget(
        url="postgresql://u:pw@db/precog_test_gw3", dbname="precog_test_gw3", embedded_home=None
    )
    assert target.describe() == "postgresql://u:***@db/precog_test_gw3"
    conninfo = resolve_database_target({"DATABASE_URL": "host=db dbname=precog_dev password=pw"})
    assert conninfo.dbname == "precog_dev"
    assert "pw" not in conninfo.describe().replace("password", "")


def test_database_target_embedded() -> None:
    target = resolve_database_target({"PRECOG_ENV": "staging", "PRECOG_HOME": "/srv/p"})
    assert target == DatabaseTarget(
        url=None, dbname="precog_staging", embedded_home=Path("/srv/p/postgres")
    )
    assert target.describe() == "embedded PostgreSQL in /srv/p/postgres, database precog_staging"


def test_database_url_without_database_is_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^DATABASE_URL names no database: postgresql://u:\*\*\*@db;"
    ):
        resolve_database_target({"DATABASE_URL": "postgresql://u:secret@db"})


def test_ensure_test_database_target() -> None:
    ensure_test_database_target({"PRECOG_ENV": "test"})
    ensure_test_database_target({"PRECOG_ENV": "test", "DATABASE_URL": "postgresql://h/x_test_gw0"})
    with pytest.raises(EnvironmentSafetyError, match="PRECOG_ENV=test, found dev"):
        ensure_test_database_target({})
    with pytest.raises(EnvironmentSafetyError, match="precog_prod"):
        ensure_test_database_target(
            {"PRECOG_ENV": "test", "DATABASE_URL": "postgresql://h/precog_prod"}
        )
