"""The resources the auth service decides with, served to it over ADS (proto/chaosgw/auth/v1):
one `ApiKey` per live key (a revoked key is simply absent), one `RoutePolicy` per route whose
credentials the service checks, and one `OAuth2Introspector` per introspection endpoint."""

from chaosgw.auth.v1 import auth_pb2

from controlplane.model import AuthenticatedAuth, GatewayState
from controlplane.translator.auth_route import auth_context, required_role_sets
from controlplane.translator.compile import Serialized
from controlplane.translator.wire import serialize

_KINDS = {
    "api_key": auth_pb2.RoutePolicy.API_KEY,
    "oauth2_introspection": auth_pb2.RoutePolicy.OAUTH2_INTROSPECTION,
}


def api_key_resources(state: GatewayState) -> list[Serialized]:
    resources = []
    for key in sorted(state.api_keys, key=lambda key: key.name):
        message = auth_pb2.ApiKey(
            id=key.name, key_hash=key.key_hash, owner=key.owner, roles=key.roles, tier=key.tier
        )
        if key.expires_at is not None:
            message.expires_at.FromDatetime(key.expires_at)
        resources.append(Serialized(key.name, serialize(message)))
    return resources


def route_policy_resources(state: GatewayState) -> list[Serialized]:
    context = auth_context(state.jwt_providers, state.roles)
    resources = []
    for route in sorted(state.routes, key=lambda route: route.name):
        auth = route.auth
        if not isinstance(auth, AuthenticatedAuth) or not auth.service_credentials():
            continue
        message = auth_pb2.RoutePolicy(
            route=route.name,
            credentials=[_KINDS[kind] for kind in auth.service_credentials()],
            required=[auth_pb2.RoleSet(roles=roles) for roles in required_role_sets(auth, context)],
            introspectors=auth.introspectors(),
        )
        resources.append(Serialized(route.name, serialize(message)))
    return resources


def introspector_resources(state: GatewayState) -> list[Serialized]:
    """With their client secrets: the auth service authenticates to the provider with them."""
    resources = []
    for introspector in sorted(state.oauth2_introspectors, key=lambda spec: spec.name):
        claims = introspector.claims
        message = auth_pb2.OAuth2Introspector(
            name=introspector.name,
            introspection_url=str(introspector.introspection_url),
            client_id=introspector.client_id,
            client_secret=introspector.client_secret.get_secret_value(),
            issuer=introspector.issuer or "",
            audiences=introspector.audiences,
            required_scopes=introspector.required_scopes,
            player_id_claim=claims.player_id,
            roles_claim=claims.roles,
            tier_claim=claims.tier or "",
            max_cache_seconds=introspector.max_cache_seconds,
            negative_cache_seconds=introspector.negative_cache_seconds,
            timeout_seconds=introspector.timeout_seconds,
        )
        resources.append(Serialized(introspector.name, serialize(message)))
    return resources
