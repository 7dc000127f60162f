"""What the admin API adds to every stored spec it returns."""

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from controlplane.api.etag import etag_for


class StoredRow(Protocol):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime


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
