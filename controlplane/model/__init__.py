"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.auth_providers import (
    ClaimNames,
    InlineJwks,
    JwtProviderSpec,
    RemoteJwks,
    TokenSources,
)
from controlplane.model.auth_roles import RoleSpec
from controlplane.model.auth_route import (
    AuthenticatedAuth,
    JwtCredential,
    PublicAuth,
    RouteAuth,
    ServiceCredential,
)
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
    "AuthenticatedAuth",
    "Backend",
    "CircuitBreakers",
    "ClaimNames",
    "CookieHash",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "HeaderHash",
    "HeaderMatch",
    "HealthCheck",
    "InlineJwks",
    "JwtCredential",
    "JwtProviderSpec",
    "ListenerSpec",
    "Maglev",
    "OutlierDetection",
    "PathMatch",
    "PublicAuth",
    "QueryParamMatch",
    "RemoteJwks",
    "Retries",
    "RetryBudget",
    "RingHash",
    "RoleSpec",
    "RouteAuth",
    "RouteMatch",
    "RouteSpec",
    "ServiceCredential",
    "ServiceSpec",
    "SourceIpHash",
    "SuccessRate",
    "Timeouts",
    "TokenSources",
    "UpstreamTls",
]
