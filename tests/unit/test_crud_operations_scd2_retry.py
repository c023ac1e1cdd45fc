"""crud_operations / scd2: which failures the writer retries, and when it leaves them to the
caller (inside the caller's transaction only the whole transaction can be retried)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from precog.database.scd2 import Column, Scd2Table, Scd2Writer, UpsertResult
from precog.utils.retry import RetryPolicy

pytestmark = pytest.mark.module("crud_operations")

TABLE = Scd2Table("t", "t_id", (Column("k", "text"),), (Column("v", "integer"),))
NO_WAIT = RetryPolicy(max_retries=2, base_delay=0, max_delay=0)


def connection(status: TransactionStatus) -> Any:
    """What the writer's retry decision reads of a connection: its transaction status."""
    return SimpleNamespace(info=SimpleNamespace(transaction_status=status))


class Attempts:
    """An attempt that fails with the given errors first, then succeeds."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> UpsertResult:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return UpsertResult(created=1)


async def test_deadlocks_and_serialization_failures_of_its_own_transaction_are_retried() -> None:
    writer = Scd2Writer(TABLE, retry=NO_WAIT)
    attempts = Attempts(psycopg.errors.DeadlockDetected(), psycopg.errors.SerializationFailure())
    assert await writer._run(connection(TransactionStatus.IDLE), attempts) == UpsertResult(
        created=1
    )
    assert attempts.calls == 3


async def test_the_retry_policy_bounds_the_attempts() -> None:
    writer = Scd2Writer(TABLE, retry=NO_WAIT)
    attempts = Attempts(*(psycopg.errors.DeadlockDetected() for _ in range(3)))
    with pytest.raises(psycopg.errors.DeadlockDetected):
        await writer._run(connection(TransactionStatus.IDLE), attempts)
    assert attempts.calls == 3  # 1 + max_retries


@pytest.mark.parametrize(
    "status", [TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE]
)
async def test_inside_the_callers_transaction_a_conflict_goes_to_the_caller(
    status: TransactionStatus,
) -> None:
    writer = Scd2Writer(TABLE, retry=NO_WAIT)
    attempts = Attempts(psycopg.errors.DeadlockDetected())
    with pytest.raises(psycopg.errors.DeadlockDetected):
        await writer._run(connection(status), attempts)
    assert attempts.calls == 1


async def test_other_failures_are_not_retried() -> None:
    writer = Scd2Writer(TABLE, retry=NO_WAIT)
    attempts = Attempts(psycopg.errors.UniqueViolation())
    with pytest.raises(psycopg.errors.UniqueViolation):
        await writer._run(connection(TransactionStatus.IDLE), attempts)
    assert attempts.calls == 1
