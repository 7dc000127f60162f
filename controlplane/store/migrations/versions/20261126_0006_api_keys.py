"""API keys: one row per live key; its spec holds the key's keyed hash, never the key.

Revision ID: 0006
Revises: 0005
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("store_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_api_keys_store_revision", "api_keys", ["store_revision"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_store_revision", table_name="api_keys")
    op.drop_table("api_keys")
