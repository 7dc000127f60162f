"""OAuth 2.0 introspector bodies of the admin API. The client secret goes in, and never comes
out."""

from typing import Self

from controlplane.api.metadata import ResourceMetadata, StoredResource, StoredSpecRow
from controlplane.api.pagination import Page
from controlplane.model.auth_introspection import IntrospectorFields


class OAuth2IntrospectorResource(StoredResource, IntrospectorFields):
    """A stored introspector: its spec without the client secret, plus metadata."""

    @classmethod
    def of(cls, row: StoredSpecRow) -> Self:
        shown = {key: value for key, value in row.spec.items() if key != "client_secret"}
        return cls.model_validate({**shown, "metadata": ResourceMetadata.of(row)})


class OAuth2IntrospectorPage(Page[OAuth2IntrospectorResource]):
    """One page of OAuth 2.0 introspectors."""
