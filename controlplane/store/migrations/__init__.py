"""Alembic migrations of the store; `Database.migrate()` runs them."""
