"""Service bodies of the admin API."""

from typing import Self

from controlplane.api.metadata import ResourceMetadata
from controlplane.api.pagination import Page
from controlplane.model import ServiceSpec
from controlplane.store.tables import Service


class ServiceResource(ServiceSpec):
    """A stored service: its spec, plus metadata."""

    metadata: ResourceMetadata

    @classmethod
    def of(cls, row: Service) -> Self:
        return cls.model_validate({**row.spec, "metadata": ResourceMetadata.of(row)})


class ServicePage(Page[ServiceResource]):
    """One page of services."""
