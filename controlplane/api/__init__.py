"""The admin REST API (FastAPI): CRUD of listeners, services and routes, node status, ops."""

from controlplane.api.app import create_app
from controlplane.api.context import ConfigPublisher

__all__ = ["ConfigPublisher", "create_app"]
