"""The resources the auth service decides with, served to it over ADS (proto/chaosgw/auth/v1):
one `ApiKey` per live key (a revoked key is simply absent) and one `RoutePolicy` per route whose
credentials the service checks."""

from chaosgw.auth.v1 import auth_pb2

from controlplane.model import AuthenticatedAuth, GatewayState
from controlplane.translator.auth_route import auth_context, required_role_sets
from controlplane.translator.compile import Serialized
from controlplane.translator.wire import serialize

_KINDS = {"api_key": auth_pb2.RoutePolicy.API_KEY, "session": auth_pb2.RoutePolicy.SESSION}


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
            session_cookie=auth.session_cookie(),
        )
        resources.append(Serialized(route.name, serialize(message)))
    return resources
