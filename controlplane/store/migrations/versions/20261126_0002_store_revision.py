"""Rows remember the store revision that last wrote them, so readers can catch up on changes.

Rows written before this migration get revision 0: a reader's first load reads everything
anyway, and every later write stamps its revision.

Revision ID: 0002
Revises: 0001
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("listeners", "services", "routes")


def upgrade() -> None:
    for table in TABLES:
        # Batch mode: SQLite cannot add an indexed NOT NULL column in place otherwise.
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("store_revision", sa.BigInteger(), server_default="0", nullable=False)
            )
            batch.create_index(f"ix_{table}_store_revision", ["store_revision"])


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_store_revision")
            batch.drop_column("store_revision")
