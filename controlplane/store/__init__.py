"""The store: SQL persistence of admin-declared config (SQLite file or PostgreSQL)."""

from controlplane.store.database import Database
from controlplane.store.state import StateLoader, current_revision, load_gateway_state

__all__ = ["Database", "StateLoader", "current_revision", "load_gateway_state"]
