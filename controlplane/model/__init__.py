"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.balancing import CookieHash, HeaderHash, Maglev, RingHash, SourceIpHash
from controlplane.model.health import (
    CircuitBreakers,
    HealthCheck,
    OutlierDetection,
    RetryBudget,
    SuccessRate,
)
from controlplane.model.listeners import ListenerSpec
from controlplane.model.retries import Retries
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
from controlplane.model.tls import UpstreamTls

__all__ = [
    "Backend",
    "CircuitBreakers",
    "CookieHash",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "HeaderHash",
    "HeaderMatch",
    "HealthCheck",
    "ListenerSpec",
    "Maglev",
    "OutlierDetection",
    "PathMatch",
    "QueryParamMatch",
    "Retries",
    "RetryBudget",
    "RingHash",
    "RouteMatch",
    "RouteSpec",
    "ServiceSpec",
    "SourceIpHash",
    "SuccessRate",
    "Timeouts",
    "UpstreamTls",
]
