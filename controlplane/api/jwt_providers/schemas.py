"""JWT provider bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import JwtProviderSpec


class JwtProviderResource(StoredResource, JwtProviderSpec):
    """A stored JWT provider: its spec, plus metadata."""


class JwtProviderPage(Page[JwtProviderResource]):
    """One page of JWT providers."""
