"""Rate-limit policy bodies of the admin API."""

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import RateLimitPolicySpec


class RateLimitPolicyResource(StoredResource, RateLimitPolicySpec):
    """A stored rate-limit policy: its spec, plus metadata."""


class RateLimitPolicyPage(Page[RateLimitPolicyResource]):
    """One page of rate-limit policies."""
