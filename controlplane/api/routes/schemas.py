"""Route bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import RouteSpec


class RouteResource(StoredResource, RouteSpec):
    """A stored route: its spec, plus metadata."""


class RoutePage(Page[RouteResource]):
    """One page of routes."""
