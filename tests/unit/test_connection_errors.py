"""connection, pure logic: error translation, the guard on targets, path confinement."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from precog.config.environment import DatabaseTarget, Environment
from precog.database.connection import (
    _column_from_constraint,
    resolve_conninfo,
    resolve_inside,
    translate_error,
)
from precog.database.embedded import EmbeddedServer
from precog.database.errors import (
    CheckViolationError,
    ConcurrencyConflictError,
    DatabaseAuthError,
    DatabaseBusyError,
    DatabaseUnavailableError,
    InvalidValueError,
    PathOutsideAllowedDirError,
)
from precog.errors import ConfigError, EnvironmentSafetyError, PrecogError

pytestmark = pytest.mark.module("connection")


def test_unreachable_server_message_names_target_and_masks_password() -> None:
    exc = psycopg.OperationalError('connection to server at "db.example" failed: refused\nmore')
    target = "postgresql://trader:***@db.example:5432/precog_test"
    error = translate_error(exc, target)
    assert isinstance(error, DatabaseUnavailableError)
    assert error.exit_code == 4
    assert target in str(error)
    assert "\n" not in str(error)
    assert "more" not in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.DeadlockDetected("deadlock detected\nDETAIL:  Process 1 waits"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
)
def test_a_lost_transaction_conflict_is_not_reported_as_an_unreachable_server(
    exc: psycopg.Error,
) -> None:
    error = translate_error(exc, "h:5432/precog_test")
    assert isinstance(error, ConcurrencyConflictError)
    assert error.exit_code == 1
    assert "unreachable" not in str(error)
    assert "retry the operation" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.StringDataRightTruncation("value too long for type character varying(8)"),
        psycopg.errors.NumericValueOutOfRange("numeric field overflow"),
        psycopg.errors.InvalidDatetimeFormat('invalid input syntax for type timestamp: "x"'),
        psycopg.errors.DatetimeFieldOverflow('date/time field value out of range: "2026-13-01"'),
        psycopg.errors.InvalidTextRepresentation('invalid input syntax for type integer: "x"'),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_typed(exc: psycopg.Error) -> None:
    error = translate_error(exc, "t")
    assert isinstance(error, InvalidValueError)
    assert str(exc) in str(error)


def test_other_data_errors_stay_psycopg_errors() -> None:
    assert translate_error(psycopg.errors.DivisionByZero("division by zero"), "t") is None


def test_authentication_failure_is_a_config_error() -> None:
    exc = psycopg.OperationalError('FATAL:  password authentication failed for user "trader"')
    error = translate_error(exc, "postgresql://trader:***@h/precog_test")
    assert isinstance(error, DatabaseAuthError)
    assert error.exit_code == 2
    assert "check the user and password" in str(error)


def test_non_database_errors_are_not_translated() -> None:
    assert translate_error(ValueError("x"), "t") is None
    own = PrecogError("already typed")
    assert translate_error(own, "t") is own


def test_constraint_names_map_to_their_column() -> None:
    # PostgreSQL names only the constraint for CHECK/FK violations; our naming carries the column.
    assert _column_from_constraint("ck_markets_yes_bid", "markets") == "yes_bid"
    assert _column_from_constraint("fk_game_states_home_team_id", "game_states") == "home_team_id"
    assert _column_from_constraint("ck_probability_models_config__immutable",
                                   "probability_models") == "config"  # fmt: skip
    assert _column_from_constraint("ex_markets_validity", "markets") is None
    assert _column_from_constraint(None, "markets") is None


def test_constraint_errors_without_server_details_still_say_nothing_was_saved() -> None:
    error = translate_error(psycopg.errors.CheckViolation("violates check constraint"), "t")
    assert isinstance(error, CheckViolationError)
    assert str(error).endswith("nothing from this batch was saved")


def test_guard_refuses_non_test_database_under_test_env() -> None:
    target = DatabaseTarget(url="postgresql://u:pw@h/precog_prod", dbname="precog_prod",
                            embedded_home=None)  # fmt: skip
    with pytest.raises(EnvironmentSafetyError) as caught:
        resolve_conninfo(target, Environment.TEST)
    assert caught.value.exit_code == 3
    assert "pw" not in str(caught.value)


def test_guard_refuses_test_database_outside_test_env() -> None:
    target = DatabaseTarget(url="postgresql://h/precog_test_gw0", dbname="precog_test_gw0",
                            embedded_home=None)  # fmt: skip
    with pytest.raises(EnvironmentSafetyError):
        resolve_conninfo(target, Environment.DEV)
    assert resolve_conninfo(target, Environment.TEST) == "postgresql://h/precog_test_gw0"


def test_embedded_url_uses_the_socket_directory() -> None:
    server = EmbeddedServer(Path("/x/pg"), Path("/x/pg"), 5432)
    assert server.url("precog_dev") == "postgresql://postgres@/precog_dev?host=%2Fx%2Fpg&port=5432"


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    allowed = tmp_path / "seeds"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "ok.sql").write_text("SELECT 1;")
    (allowed / "sub" / "nested.sql").write_text("SELECT 2;")
    (tmp_path / "secret.sql").write_text("DROP TABLE x;")
    return allowed


def test_apply_migrations_path_traversal(seeds: Path) -> None:
    assert resolve_inside(seeds, Path("ok.sql")) == (seeds / "ok.sql").resolve()
    assert resolve_inside(seeds, Path("sub/nested.sql")).name == "nested.sql"
    with pytest.raises(PathOutsideAllowedDirError, match=r"'\.\.' is not allowed"):
        resolve_inside(seeds, Path("../secret.sql"))
    with pytest.raises(PathOutsideAllowedDirError, match="outside"):
        resolve_inside(seeds, seeds.parent / "secret.sql")  # absolute path elsewhere
    os.symlink(seeds.parent / "secret.sql", seeds / "link.sql")
    with pytest.raises(PathOutsideAllowedDirError, match="outside"):
        resolve_inside(seeds, Path("link.sql"))
    os.symlink(seeds.parent, seeds / "escape")
    with pytest.raises(PathOutsideAllowedDirError):
        resolve_inside(seeds, Path("escape/secret.sql"))
    with pytest.raises(ConfigError, match="no such file"):
        resolve_inside(seeds, Path("missing.sql"))


@pytest.mark.parametrize(
    ("exc", "hint"),
    [
        (
            psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
            "lock_timeout",
        ),
        (
            psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
            "statement_timeout",
        ),
    ],
)
def test_timeouts_are_busy_with_retry_advice_not_unreachable(exc: psycopg.Error, hint: str) -> None:
    error = translate_error(exc, "h:5432/precog_test")
    assert isinstance(error, DatabaseBusyError)
    assert error.exit_code == 1
    assert hint in str(error)
    assert "retry" in str(error)
    assert "unreachable" not in str(error)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.ProgramLimitExceeded(
            'index row size 6016 exceeds btree version 4 maximum 2704 for index "k"'
        ),
        psycopg.errors.UntranslatableCharacter("unsupported Unicode escape sequence"),
        psycopg.errors.CharacterNotInRepertoire("invalid byte sequence for encoding"),
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"),
    ],
)
def test_input_the_server_cannot_store_is_bad_input(exc: Exception) -> None:
    error = translate_error(exc, "h:5432/precog_test")
    assert isinstance(error, InvalidValueError)
    assert error.exit_code == 2
    assert "unreachable" not in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.TooManyConnections("sorry, too many clients already"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), False),
        (psycopg.errors.OutOfMemory("out of memory"), False),
    ],
)
def test_only_a_server_that_cannot_be_reached_is_unavailable(
    exc: psycopg.Error, unavailable: bool
) -> None:
    error = translate_error(exc, "h:5432/precog_test")
    assert isinstance(error, PrecogError)
    assert isinstance(error, DatabaseUnavailableError) is unavailable
    assert error.exit_code == (4 if unavailable else 1)


def test_the_head_revision_is_read_without_alembic_and_agrees_with_it() -> None:
    """The schema check of every command reads the head from the file names; Alembic's own
    reading of the chain must give the same revisions in the same order."""
    from precog.database import migrate

    chain = migrate.script_revisions()  # oldest first, as Alembic walks down_revision links
    files = sorted(p.stem for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files == chain  # every id is its file name, and the numbering is the chain order
    assert migrate.head_revision() == chain[-1]
