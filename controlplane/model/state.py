"""The whole declared state of the gateway: the translator's only input."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from controlplane.model.auth_api_keys import StoredApiKey
from controlplane.model.auth_introspection import OAuth2IntrospectorSpec
from controlplane.model.auth_providers import JwtProviderSpec
from controlplane.model.auth_roles import RoleSpec
from controlplane.model.listeners import ListenerSpec
from controlplane.model.ratelimits import RateLimitPolicySpec
from controlplane.model.routes import RouteSpec
from controlplane.model.services import ServiceSpec
from controlplane.model.tls import CertificateSpec


@dataclass(frozen=True)
class GatewayState:
    listeners: tuple[ListenerSpec, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    certificates: tuple[CertificateSpec, ...] = ()
    rate_limit_policies: tuple[RateLimitPolicySpec, ...] = ()
    jwt_providers: tuple[JwtProviderSpec, ...] = ()
    roles: tuple[RoleSpec, ...] = ()
    api_keys: tuple[StoredApiKey, ...] = ()
    # Key sets fetched for providers with remote JWKS (provider name -> JWKS JSON text): not
    # stored, so they come from the control plane's fetcher, not from the store.
    fetched_jwks: Mapping[str, str] = field(default_factory=dict)
    # Not used by translation; lets callers tell which store revision a snapshot came from.
    revision: int = field(default=0, compare=False)
    # Pushed to the auth service, client secrets included (see auth_resources.py).
    oauth2_introspectors: tuple[OAuth2IntrospectorSpec, ...] = ()

    def node_groups(self) -> list[str]:
        return sorted({listener.node_group for listener in self.listeners})
