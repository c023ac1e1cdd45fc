"""Lookup seeds: platforms (kalshi, espn), model classes, strategy types. Idempotent.

Revision ID: 0002_seed_lookups
Revises: 0001_schema
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision = "0002_seed_lookups"
down_revision = "0001_schema"
branch_labels = None
depends_on = None

PLATFORMS = [
    ("kalshi", "Kalshi", "exchange"),
    ("espn", "ESPN", "data_source"),
]
MODEL_CLASSES = [
    ("elo", "Elo rating model"),
    ("regression", "Statistical regression (logistic, linear)"),
    ("ensemble", "Weighted combination of other models"),
    ("ml", "Machine-learned model"),
    ("market_consensus", "Probability implied by market prices"),
    ("baseline", "Naive reference model"),
]
STRATEGY_TYPES = [
    ("value", "Trade when model probability and market price disagree by an edge"),
    ("momentum", "Follow price moves"),
    ("mean_reversion", "Fade price moves"),
    ("arbitrage", "Lock in price inconsistencies across related markets"),
    ("hedge", "Reduce exposure of existing positions"),
]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _values(rows: Sequence[tuple[str, ...]]) -> str:
    return ", ".join("(" + ", ".join(_quote(v) for v in row) + ")" for row in rows)


def upgrade() -> None:
    op.execute(
        f"INSERT INTO platforms (code, name, kind) VALUES {_values(PLATFORMS)} "  # noqa: S608 - constants
        "ON CONFLICT (code) DO NOTHING"
    )
    op.execute(
        f"INSERT INTO model_classes (code, description) VALUES {_values(MODEL_CLASSES)} "  # noqa: S608 - constants
        "ON CONFLICT (code) DO NOTHING"
    )
    op.execute(
        f"INSERT INTO strategy_types (code, description) VALUES {_values(STRATEGY_TYPES)} "  # noqa: S608 - constants
        "ON CONFLICT (code) DO NOTHING"
    )


def downgrade() -> None:
    # Seeds stay: user rows may reference them, and upgrade re-inserts idempotently. Going
    # below 0001 drops them with their tables.
    pass
