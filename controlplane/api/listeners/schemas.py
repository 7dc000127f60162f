"""Listener bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import ListenerSpec


class ListenerResource(StoredResource, ListenerSpec):
    """A stored listener: its spec, plus metadata."""


class ListenerPage(Page[ListenerResource]):
    """One page of listeners."""
