"""Auth: JWT providers, roles, and what each route's auth names.

Revision ID: 0005
Revises: 0004
Created: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RESOURCE_TABLES = ("jwt_providers", "roles")


def _resource_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("store_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _reference_table(name: str, column: str, referred: str) -> None:
    op.create_table(
        name,
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column(column, sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("route_id", column, name=f"pk_{name}"),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=f"fk_{name}_route_id_routes", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            [column], [f"{referred}.id"], name=f"fk_{name}_{column}_{referred}", ondelete="RESTRICT"
        ),
    )
    op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    for table in RESOURCE_TABLES:
        op.create_table(
            table,
            *_resource_columns(),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint("name", name=f"uq_{table}_name"),
            sqlite_autoincrement=True,
        )
        op.create_index(f"ix_{table}_store_revision", table, ["store_revision"])
    _reference_table("route_jwt_provider_refs", "jwt_provider_id", "jwt_providers")
    _reference_table("route_role_refs", "role_id", "roles")


def downgrade() -> None:
    for name, column in (
        ("route_role_refs", "role_id"),
        ("route_jwt_provider_refs", "jwt_provider_id"),
    ):
        op.drop_index(f"ix_{name}_{column}", table_name=name)
        op.drop_table(name)
    for table in reversed(RESOURCE_TABLES):
        op.drop_index(f"ix_{table}_store_revision", table_name=table)
        op.drop_table(table)
