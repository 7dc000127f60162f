"""OAuth 2.0 introspectors, and which of them each route's auth names. An introspector's spec
holds its client secret.

Revision ID: 0007
Revises: 0006
Created: 2026-11-26
"""

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The auth revision's table shapes (a named resource, a route's references), made the same way.
_auth = importlib.import_module("controlplane.store.migrations.versions.20261126_0005_auth")
TABLE = "oauth2_introspectors"
REFS, REF_COLUMN = "route_introspector_refs", "introspector_id"


def upgrade() -> None:
    op.create_table(
        TABLE,
        *_auth._resource_columns(),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        sa.UniqueConstraint("name", name=f"uq_{TABLE}_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(f"ix_{TABLE}_store_revision", TABLE, ["store_revision"])
    _auth._reference_table(REFS, REF_COLUMN, TABLE)


def downgrade() -> None:
    op.drop_index(f"ix_{REFS}_{REF_COLUMN}", table_name=REFS)
    op.drop_table(REFS)
    op.drop_index(f"ix_{TABLE}_store_revision", table_name=TABLE)
    op.drop_table(TABLE)
