"""Listener bodies of the admin API."""

from typing import Self

from controlplane.api.metadata import ResourceMetadata
from controlplane.api.pagination import Page
from controlplane.model import ListenerSpec
from controlplane.store.tables import Listener


class ListenerResource(ListenerSpec):
    """A stored listener: its spec, plus metadata."""

    metadata: ResourceMetadata

    @classmethod
    def of(cls, row: Listener) -> Self:
        return cls.model_validate({**row.spec, "metadata": ResourceMetadata.of(row)})


class ListenerPage(Page[ListenerResource]):
    """One page of listeners."""
