"""Certificates: PEM chains and their private keys, served to Envoy over SDS.

The private key is kept in the spec as it was given (not encrypted): whoever can read the
database can read the keys.

Revision ID: 0004
Revises: 0003
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("store_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.UniqueConstraint("name", name="uq_certificates_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_certificates_store_revision", "certificates", ["store_revision"])


def downgrade() -> None:
    op.drop_index("ix_certificates_store_revision", "certificates")
    op.drop_table("certificates")
