"""Rate-limit policies, and the routes they name.

Revision ID: 0003
Revises: 0002
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("store_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_limit_policies"),
        sa.UniqueConstraint("name", name="uq_rate_limit_policies_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_rate_limit_policies_store_revision", "rate_limit_policies", ["store_revision"]
    )
    op.create_table(
        "policy_route_refs",
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "route_id", name="pk_policy_route_refs"),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["rate_limit_policies.id"],
            name="fk_policy_route_refs_policy_id_rate_limit_policies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name="fk_policy_route_refs_route_id_routes",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_policy_route_refs_route_id", "policy_route_refs", ["route_id"])


def downgrade() -> None:
    op.drop_index("ix_policy_route_refs_route_id", table_name="policy_route_refs")
    op.drop_table("policy_route_refs")
    op.drop_index("ix_rate_limit_policies_store_revision", table_name="rate_limit_policies")
    op.drop_table("rate_limit_policies")
