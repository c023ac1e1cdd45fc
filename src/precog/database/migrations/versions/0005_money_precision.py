"""Money columns hold what the venue sends: NUMERIC(20,6) instead of NUMERIC(18,4).

Kalshi emits some portfolio money fields with up to 6 decimals (reference A3, e.g.
`fee_cost: "0.010000"`); NUMERIC(18,4) rounded them. Widening keeps every stored value
exactly (a NUMERIC(18,4) value always fits NUMERIC(20,6)). Prices stay NUMERIC(10,4) and
counts NUMERIC(18,2). The downgrade narrows back only if no stored value would be rounded,
and refuses otherwise.

Revision ID: 0005_money_precision
Revises: 0004_model_lifecycle
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision = "0005_money_precision"
down_revision = "0004_model_lifecycle"
branch_labels = None
depends_on = None

MONEY = "NUMERIC(20,6)"
OLD_MONEY = "NUMERIC(18,4)"
# table -> its money columns (balances, costs, fees, P&L, revenue)
MONEY_COLUMNS: dict[str, Sequence[str]] = {
    "account_balance": ("balance", "portfolio_value"),
    "positions": ("market_exposure", "total_traded", "realized_pnl", "fees_paid"),
    "fills": ("fee_cost",),
    "settlements": ("yes_total_cost", "no_total_cost", "revenue", "fee_cost"),
}


def _alter(table: str, columns: Sequence[str], sql_type: str) -> str:
    changes = ", ".join(f"ALTER COLUMN {c} TYPE {sql_type}" for c in columns)
    return f"ALTER TABLE {table} {changes}"


def upgrade() -> None:
    for table, columns in MONEY_COLUMNS.items():
        op.execute(_alter(table, columns, MONEY))


def downgrade() -> None:
    for table, columns in MONEY_COLUMNS.items():
        lossy = " OR ".join(f"{c} <> round({c}, 4)" for c in columns)
        # Constant table and column names of this module, never input.
        check = f"SELECT 1 FROM {table} WHERE {lossy}"  # noqa: S608
        op.execute(
            f"""DO $$ BEGIN
    IF EXISTS ({check}) THEN
        RAISE EXCEPTION 'cannot downgrade: {table} holds money with more than 4 decimals, '
            'which NUMERIC(18,4) would round';
    END IF;
END $$"""
        )
        op.execute(_alter(table, columns, OLD_MONEY))
