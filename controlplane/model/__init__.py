"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.listeners import ListenerSpec
from controlplane.model.route_actions import (
    Backend,
    Canary,
    CanaryCookie,
    CanaryHeader,
    DirectResponseAction,
    ForwardAction,
    HostRewrite,
    Mirror,
    PathRewrite,
    RedirectAction,
    RegexRewrite,
    Rollout,
    RouteAction,
)
from controlplane.model.routes import (
    GrpcMatch,
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
    "Canary",
    "CanaryCookie",
    "CanaryHeader",
    "DirectResponseAction",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "GrpcMatch",
    "HeaderMatch",
    "HostRewrite",
    "ListenerSpec",
    "Mirror",
    "PathMatch",
    "PathRewrite",
    "QueryParamMatch",
    "RedirectAction",
    "RegexRewrite",
    "Rollout",
    "RouteAction",
    "RouteMatch",
    "RouteSpec",
    "ServiceSpec",
    "Timeouts",
]
