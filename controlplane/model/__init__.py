"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.listeners import ListenerSpec
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
from controlplane.model.tls import CertificateSpec, ListenerTls

__all__ = [
    "Backend",
    "CertificateSpec",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "HeaderMatch",
    "ListenerSpec",
    "ListenerTls",
    "PathMatch",
    "QueryParamMatch",
    "RouteMatch",
    "RouteSpec",
    "ServiceSpec",
    "Timeouts",
]
