"""The database error subtree: what a caller of `precog.database` must do about a failure.

    ServiceUnavailableError (exit 4)
    ├── DatabaseUnavailableError   the server cannot be reached or the connection was lost
    PrecogError (exit 1)
    ├── PoolExhaustedError         every pooled connection stayed busy for the pool timeout
    ├── ConcurrencyConflictError   deadlock / serialization failure: retry the operation
    ├── DatabaseBusyError          lock_timeout or statement_timeout expired: retry later
    ├── ConstraintViolationError   a row broke NOT NULL / FK / CHECK / UNIQUE (names table, column)
    │   ├── NotNullViolationError, ForeignKeyViolationError, CheckViolationError,
    │   ├── UniqueViolationError, ExclusionViolationError
    │   └── InvalidValueError      (exit 2) bad input: does not fit its column, NUL, lone
    │                              surrogate, key too long to index (names table, field)
    └── MigrationError             Alembic could not bring the schema to the requested revision
    ConfigError (exit 2)
    ├── DatabaseAuthError          the server refused the credentials
    └── PathOutsideAllowedDirError a file argument escapes its allowed directory

Every message is one line and never contains a password (targets are masked by the caller).
"""

from __future__ import annotations

from typing import ClassVar

from precog.errors import EXIT_USAGE, ConfigError, PrecogError, ServiceUnavailableError


class DatabaseUnavailableError(ServiceUnavailableError):
    """The PostgreSQL server is down, unreachable, or dropped the connection mid-operation."""


class DatabaseAuthError(ConfigError):
    """The server rejected the user name or password in the database target."""


class ConcurrencyConflictError(PrecogError):
    """A deadlock or serialization failure aborted the transaction (the server is fine)."""


class DatabaseBusyError(PrecogError):
    """The server is up, but a statement gave up waiting (lock_timeout or statement_timeout)."""


class PoolExhaustedError(PrecogError):
    """No pooled connection became free within the pool timeout."""

    def __init__(self, message: str, *, pool_size: int, timeout: float) -> None:
        super().__init__(message)
        self.pool_size = pool_size
        self.timeout = timeout


class MigrationError(PrecogError):
    """A schema migration failed; the database stays at its previous revision."""


class SchemaNotCurrentError(ConfigError):
    """The database's schema revision is not the one this code needs (run `precog db upgrade`)."""


class PathOutsideAllowedDirError(ConfigError):
    """A file path (SQL, seed) resolves outside the directory it must come from."""


class ConstraintViolationError(PrecogError):
    """A write broke a database constraint; nothing of the failed batch was committed."""

    kind = "constraint"

    def __init__(
        self, *, table: str | None, column: str | None, constraint: str | None, detail: str
    ) -> None:
        self.table = table
        self.column = column
        self.constraint = constraint
        self.detail = detail
        where = f"{table or '?'}.{column}" if column else (table or "?")
        named = f" (constraint {constraint})" if constraint else ""
        super().__init__(
            f"{self.kind} violation on {where}{named}: {detail}; nothing from this batch was saved"
        )


class NotNullViolationError(ConstraintViolationError):
    kind = "NOT NULL"


class ForeignKeyViolationError(ConstraintViolationError):
    kind = "foreign key"


class CheckViolationError(ConstraintViolationError):
    kind = "CHECK"


class UniqueViolationError(ConstraintViolationError):
    kind = "unique"


class ExclusionViolationError(ConstraintViolationError):
    kind = "exclusion"


class InvalidValueError(ConstraintViolationError):
    """Bad input: a value cannot be stored exactly as given (more digits than its column
    holds, too long, unparsable, a NUL character, a lone surrogate, a key too long to index).
    Retrying cannot help, so it is a usage error (exit 2) naming the table and field."""

    kind = "invalid value"
    exit_code: ClassVar[int] = EXIT_USAGE
