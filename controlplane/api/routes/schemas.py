"""Route bodies of the admin API."""

from typing import Self

from controlplane.api.metadata import ResourceMetadata
from controlplane.api.pagination import Page
from controlplane.model import RouteSpec
from controlplane.store.tables import Route


class RouteResource(RouteSpec):
    """A stored route: its spec, plus metadata."""

    metadata: ResourceMetadata

    @classmethod
    def of(cls, row: Route) -> Self:
        return cls.model_validate({**row.spec, "metadata": ResourceMetadata.of(row)})


class RoutePage(Page[RouteResource]):
    """One page of routes."""
