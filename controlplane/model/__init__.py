"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.listeners import ListenerSpec
from controlplane.model.ratelimits import (
    GatewayTarget,
    HeaderKey,
    HostsTarget,
    Limit,
    OnRedisError,
    RateLimitPolicySpec,
    RoutesTarget,
    TierLimit,
)
from controlplane.model.routes import (
    Backend,
    ForwardAction,
    HeaderMatch,
    PathMatch,
    QueryParamMatch,
    RouteMatch,
    RouteSpec,
)
from controlplane.model.services import Endpoint, ServiceSpec, Timeouts
from controlplane.model.state import GatewayState

__all__ = [
    "Backend",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "GatewayTarget",
    "HeaderKey",
    "HeaderMatch",
    "HostsTarget",
    "Limit",
    "ListenerSpec",
    "OnRedisError",
    "PathMatch",
    "QueryParamMatch",
    "RateLimitPolicySpec",
    "RouteMatch",
    "RouteSpec",
    "RoutesTarget",
    "ServiceSpec",
    "TierLimit",
    "Timeouts",
]
