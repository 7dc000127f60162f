"""Pure compilation of the declared gateway state into Envoy resources.

`translate` has no clock, no randomness and no I/O: the same state always gives the same
resources, which is what lets the xDS layer version them by content hash.
"""

from controlplane.translator.auth_extauthz import ExtAuthzService
from controlplane.translator.auth_resources import (
    api_key_resources,
    introspector_resources,
    jwt_provider_resources,
    route_policy_resources,
)
from controlplane.translator.compile import (
    GroupResources,
    Serialized,
    Translator,
    policy_resources,
    translate,
)
from controlplane.translator.ratelimits import RateLimitService

__all__ = [
    "ExtAuthzService",
    "GroupResources",
    "RateLimitService",
    "Serialized",
    "Translator",
    "api_key_resources",
    "introspector_resources",
    "jwt_provider_resources",
    "policy_resources",
    "route_policy_resources",
    "translate",
]
