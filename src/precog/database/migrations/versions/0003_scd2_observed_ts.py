"""SCD2 versions record how far they were confirmed: `row_observed_ts` on every SCD2 table.

`row_observed_ts` is the time of the latest observation that confirmed a version (equal
values). With it the writer can place a late observation exactly when it falls in a
version's unconfirmed gap (see `precog.database.scd2`). Existing versions were confirmed
at least at their start, so they get `row_observed_ts = row_start_ts`.

The index on (key id, row_start_ts) finds the version that follows a batch's time window.

Revision ID: 0003_scd2_observed_ts
Revises: 0002_seed_lookups
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003_scd2_observed_ts"
down_revision = "0002_seed_lookups"
branch_labels = None
depends_on = None

SCD2_TABLES = {
    "markets": "market_id",
    "account_balance": "balance_key_id",
    "positions": "position_key_id",
    "game_states": "game_key_id",
}


def upgrade() -> None:
    for table, key_id in SCD2_TABLES.items():
        op.execute(f"ALTER TABLE {table} ADD COLUMN row_observed_ts TIMESTAMPTZ")
        op.execute(f"UPDATE {table} SET row_observed_ts = row_start_ts")  # noqa: S608 - constants
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN row_observed_ts SET NOT NULL, "
            f"ADD CONSTRAINT ck_{table}_row_observed_ts CHECK (row_observed_ts >= row_start_ts "
            "AND (row_end_ts IS NULL OR row_observed_ts < row_end_ts))"
        )
        op.execute(f"CREATE INDEX ix_{table}_key_start ON {table} ({key_id}, row_start_ts)")


def downgrade() -> None:
    for table in SCD2_TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_key_start")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS row_observed_ts")
