"""Alembic environment: runs Precog's migrations on the connection the runner hands over.

`precog.database.migrate` builds the Alembic config in code and passes an open SQLAlchemy
connection (psycopg 3 driver) in `config.attributes["connection"]`; there is no alembic.ini
and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `precog db upgrade` (precog.database.migrate)")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
