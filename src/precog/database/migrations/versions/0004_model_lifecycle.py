"""Probability model lifecycle rules the database enforces (model_manager, SPEC §5).

- at most one `active` version per model name (partial unique index), so concurrent
  activations can never leave two active versions;
- versions in the canonical semantic form MAJOR.MINOR.PATCH without leading zeros, so the
  text and the numeric order agree and `1.10.0` sorts above `1.9.0`;
- an index on (name, numeric version) for the latest-version lookup;
- each lifecycle status carries the timestamp of the step that reached it.

Revision ID: 0004_model_lifecycle
Revises: 0003_scd2_observed_ts
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004_model_lifecycle"
down_revision = "0003_scd2_observed_ts"
branch_labels = None
depends_on = None

_PART = "(0|[1-9][0-9]{0,8})"  # at most 9 digits: every part fits an integer column

STATEMENTS = [
    "CREATE UNIQUE INDEX uq_probability_models_one_active ON probability_models (name) "
    "WHERE status = 'active'",
    "ALTER TABLE probability_models ADD CONSTRAINT ck_probability_models_version__semver "
    f"CHECK (version ~ '^{_PART}\\.{_PART}\\.{_PART}$')",
    "CREATE INDEX ix_probability_models_name_semver ON probability_models "
    "(name, (string_to_array(version, '.')::integer[]))",
    "ALTER TABLE probability_models ADD CONSTRAINT ck_probability_models_status__timestamps "
    "CHECK ((status <> 'testing' OR testing_at IS NOT NULL) "
    "AND (status <> 'active' OR activated_at IS NOT NULL) "
    "AND (status <> 'deprecated' OR deprecated_at IS NOT NULL))",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "ALTER TABLE probability_models "
        "DROP CONSTRAINT IF EXISTS ck_probability_models_status__timestamps"
    )
    op.execute("DROP INDEX IF EXISTS ix_probability_models_name_semver")
    op.execute(
        "ALTER TABLE probability_models "
        "DROP CONSTRAINT IF EXISTS ck_probability_models_version__semver"
    )
    op.execute("DROP INDEX IF EXISTS uq_probability_models_one_active")
