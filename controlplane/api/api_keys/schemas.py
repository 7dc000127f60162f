"""API key bodies of the admin API: never the stored hash; the key only in the answer to its
creation."""

from typing import Self

from pydantic import Field

from controlplane.api.metadata import ResourceMetadata, StoredResource, StoredSpecRow
from controlplane.api.pagination import Page
from controlplane.model import ApiKeySpec, StoredApiKey


class ApiKeyResource(StoredResource, ApiKeySpec):
    """A stored API key: its spec, plus metadata. The key itself cannot be read back."""

    @classmethod
    def of(cls, row: StoredSpecRow) -> Self:
        spec = StoredApiKey.model_validate(row.spec).spec()
        return cls.model_validate({**spec.model_dump(), "metadata": ResourceMetadata.of(row)})


class CreatedApiKey(ApiKeyResource):
    """The new key, with the key itself: shown this once, and never again."""

    key: str = Field(description="The API key. Store it now: the gateway keeps only a hash.")


class ApiKeyPage(Page[ApiKeyResource]):
    """One page of API keys."""
