"""The resources the auth service decides with, served to it over ADS (proto/chaosgw/auth/v1):
one `ApiKey` per live key (a revoked key is simply absent), one `RoutePolicy` per route the
service checks, one `JwtProvider` per provider and one `OAuth2Introspector` per introspection
endpoint."""

import json

from chaosgw.auth.v1 import auth_pb2

from controlplane.model import AuthenticatedAuth, GatewayState, InlineJwks, RemoteJwks, RouteSpec
from controlplane.model.path_templates import variable_regex
from controlplane.translator.auth_route import auth_context, required_role_sets
from controlplane.translator.compile import Serialized
from controlplane.translator.wire import serialize

_KINDS = {
    "api_key": auth_pb2.RoutePolicy.API_KEY,
    "jwt": auth_pb2.RoutePolicy.JWT,
    "session": auth_pb2.RoutePolicy.SESSION,
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
        if not isinstance(auth, AuthenticatedAuth) or not auth.needs_service():
            continue
        message = auth_pb2.RoutePolicy(
            route=route.name,
            credentials=[_KINDS[credential.kind] for credential in auth.credentials],
            required=[auth_pb2.RoleSet(roles=roles) for roles in required_role_sets(auth, context)],
            jwt_providers=auth.jwt_providers(),
            introspectors=auth.introspectors(),
            session_cookie=auth.session_cookie(),
        )
        owner = owner_rule(route)
        if owner is not None:
            message.owner.CopyFrom(owner)
        resources.append(Serialized(route.name, serialize(message)))
    return resources


def owner_rule(route: RouteSpec) -> auth_pb2.OwnerRule | None:
    """The route's owner rule with the regex of its path template (validated to name the
    rule's variable)."""
    auth = route.auth
    if not isinstance(auth, AuthenticatedAuth) or auth.owner is None:
        return None
    name = auth.owner.path_parameter
    return auth_pb2.OwnerRule(
        path_parameter=name,
        path_regex=variable_regex(route.match.path.value, name),
        unless_roles=auth.owner.unless_roles,
    )


def jwt_provider_resources(state: GatewayState) -> list[Serialized]:
    """Every provider, for the routes whose JWTs the service verifies; a remote provider with
    the keys the control plane last fetched (none yet: no keys, and its tokens are refused
    until the service fetches them itself)."""
    resources = []
    for provider in sorted(state.jwt_providers, key=lambda provider: provider.name):
        source, claims, sources = provider.jwks, provider.claims, provider.token_sources
        if isinstance(source, InlineJwks):
            jwks = json.dumps(source.document, sort_keys=True, separators=(",", ":"))
        else:
            jwks = state.fetched_jwks.get(provider.name, "")
        message = auth_pb2.JwtProvider(
            name=provider.name,
            issuer=provider.issuer,
            audiences=provider.audiences,
            algorithms=provider.algorithms,
            clock_skew_seconds=provider.clock_skew_seconds,
            player_id_claim=claims.player_id,
            roles_claim=claims.roles,
            tier_claim=claims.tier or "",
            authorization_header=sources.authorization_header,
            cookies=sources.cookies,
            query_parameter=sources.query_parameter or "",
            jwks=jwks,
        )
        if isinstance(source, RemoteJwks):
            if source.uri is not None:
                message.jwks_url = str(source.uri)
            else:
                message.discovery_url = provider.discovery_url()
        resources.append(Serialized(provider.name, serialize(message)))
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
