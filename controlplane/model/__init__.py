"""The gateway's declarative model: what admins declare, independent of storage and of Envoy.

The admin API validates requests into these specs, the store persists them, and the
translator compiles a whole `GatewayState` into Envoy resources.
"""

from controlplane.model.auth_api_keys import ApiKeySpec, StoredApiKey
from controlplane.model.auth_introspection import OAuth2IntrospectorSpec
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
    IntrospectionCredential,
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
from controlplane.model.retries import Retries
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
from controlplane.model.tls import CertificateSpec, ListenerTls, UpstreamTls

__all__ = [
    "ApiKeySpec",
    "AuthenticatedAuth",
    "Backend",
    "Canary",
    "CanaryCookie",
    "CanaryHeader",
    "CertificateSpec",
    "CircuitBreakers",
    "ClaimNames",
    "CookieHash",
    "DirectResponseAction",
    "Endpoint",
    "ForwardAction",
    "GatewayState",
    "GatewayTarget",
    "GrpcMatch",
    "HeaderHash",
    "HeaderKey",
    "HeaderMatch",
    "HealthCheck",
    "HostRewrite",
    "HostsTarget",
    "InlineJwks",
    "IntrospectionCredential",
    "JwtCredential",
    "JwtProviderSpec",
    "Limit",
    "ListenerSpec",
    "ListenerTls",
    "Maglev",
    "Mirror",
    "OAuth2IntrospectorSpec",
    "OnRedisError",
    "OutlierDetection",
    "PathMatch",
    "PathRewrite",
    "PublicAuth",
    "QueryParamMatch",
    "RateLimitPolicySpec",
    "RedirectAction",
    "RegexRewrite",
    "RemoteJwks",
    "Retries",
    "RetryBudget",
    "RingHash",
    "RoleSpec",
    "Rollout",
    "RouteAction",
    "RouteAuth",
    "RouteMatch",
    "RouteSpec",
    "RoutesTarget",
    "ServiceCredential",
    "ServiceSpec",
    "SourceIpHash",
    "StoredApiKey",
    "SuccessRate",
    "TierLimit",
    "Timeouts",
    "TokenSources",
    "UpstreamTls",
]
