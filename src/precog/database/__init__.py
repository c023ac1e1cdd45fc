"""Storage: PostgreSQL target, pool, migrations, SCD2 history and CRUD."""
