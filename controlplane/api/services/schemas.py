"""Service bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import ServiceSpec


class ServiceResource(StoredResource, ServiceSpec):
    """A stored service: its spec, plus metadata."""


class ServicePage(Page[ServiceResource]):
    """One page of services."""
