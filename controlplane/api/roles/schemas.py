"""Role bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import RoleSpec


class RoleResource(StoredResource, RoleSpec):
    """A stored role: its spec, plus metadata."""


class RolePage(Page[RoleResource]):
    """One page of roles."""
