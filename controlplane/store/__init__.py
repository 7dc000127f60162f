"""The store: SQL persistence of admin-declared config (SQLite file or PostgreSQL)."""

from controlplane.store.database import Database
from controlplane.store.state import current_revision, load_gateway_state

__all__ = ["Database", "current_revision", "load_gateway_state"]
