"""What the admin API adds to every stored spec it returns."""

from datetime import datetime
from typing import Any, Protocol, Self

from pydantic import BaseModel, Field

from controlplane.api.etag import etag_for


class StoredRow(Protocol):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime


class StoredSpecRow(StoredRow, Protocol):
    spec: dict[str, Any]


class ResourceMetadata(BaseModel):
    version: int = Field(description="Starts at 1, grows by one with every change.")
    etag: str = Field(description="Pass it in If-Match to update or delete this version.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: StoredRow) -> "ResourceMetadata":
        return cls(
            version=row.version,
            etag=etag_for(row.id, row.version),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class StoredResource(BaseModel):
    """A stored spec as the API returns it: the spec's fields, plus `metadata`.

    A kind's resource body derives from it and from the kind's spec, this class first:
    `class ListenerResource(StoredResource, ListenerSpec)`. Pydantic orders fields from the last
    base to the first, so `metadata` comes after the spec's fields, and the spec's model config
    (unknown fields forbidden, frozen) applies.
    """

    metadata: ResourceMetadata

    @classmethod
    def of(cls, row: StoredSpecRow) -> Self:
        return cls.model_validate({**row.spec, "metadata": ResourceMetadata.of(row)})
