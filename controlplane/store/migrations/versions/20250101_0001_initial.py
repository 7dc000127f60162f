"""Initial schema: listeners, services, routes, their references and the revision counter.

Revision ID: 0001
Revises:
Created: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _resource_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "listeners",
        sa.Column("address", sa.String(45), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("node_group", sa.String(63), nullable=False),
        *_resource_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_listeners"),
        sa.UniqueConstraint("name", name="uq_listeners_name"),
        sa.UniqueConstraint(
            "address", "port", "node_group", name="uq_listeners_address_port_node_group"
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "services",
        *_resource_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_services"),
        sa.UniqueConstraint("name", name="uq_services_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "routes",
        sa.Column("listener_id", sa.Integer(), nullable=False),
        sa.Column("route_order", sa.Integer(), nullable=False),
        *_resource_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_routes"),
        sa.UniqueConstraint("name", name="uq_routes_name"),
        sa.ForeignKeyConstraint(
            ["listener_id"],
            ["listeners.id"],
            name="fk_routes_listener_id_listeners",
            ondelete="RESTRICT",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_routes_listener_id", "routes", ["listener_id"])
    op.create_index("ix_routes_route_order_name", "routes", ["route_order", "name"])
    op.create_table(
        "route_service_refs",
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("route_id", "service_id", name="pk_route_service_refs"),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["routes.id"],
            name="fk_route_service_refs_route_id_routes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name="fk_route_service_refs_service_id_services",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_route_service_refs_service_id", "route_service_refs", ["service_id"])
    revision_table = op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_revision"),
        sa.CheckConstraint("id = 1", name=op.f("ck_revision_single_row")),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 0}])


def downgrade() -> None:
    op.drop_table("revision")
    op.drop_index("ix_route_service_refs_service_id", table_name="route_service_refs")
    op.drop_table("route_service_refs")
    op.drop_index("ix_routes_route_order_name", table_name="routes")
    op.drop_index("ix_routes_listener_id", table_name="routes")
    op.drop_table("routes")
    op.drop_table("services")
    op.drop_table("listeners")
