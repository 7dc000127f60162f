"""URL paths of the admin API and the resource name path parameter."""

from typing import Annotated

from fastapi import Path

from controlplane.model.common import Name

API_PREFIX = "/api/v1"

# The model's Name constraints, so that an impossible name is refused before any query.
NamePath = Annotated[Name, Path(description="The resource's name.")]


def resource_path(kind: str, name: str) -> str:
    """Path of one resource, e.g. `/api/v1/routes/chat` (for Location headers and errors)."""
    return f"{API_PREFIX}/{kind}/{name}"
