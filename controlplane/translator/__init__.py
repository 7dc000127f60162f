"""Pure compilation of the declared gateway state into Envoy resources.

`translate` has no clock, no randomness and no I/O: the same state always gives the same
resources, which is what lets the xDS layer version them by content hash.
"""

from controlplane.translator.compile import (
    GroupResources,
    Serialized,
    Translator,
    policy_resources,
    translate,
)
from controlplane.translator.ratelimits import RateLimitService

__all__ = [
    "GroupResources",
    "RateLimitService",
    "Serialized",
    "Translator",
    "policy_resources",
    "translate",
]
