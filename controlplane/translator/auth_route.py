"""A route's `auth` becomes its per-route configuration of the `jwt_authn` and `rbac` filters.

A route protected by JWTs requires a valid token of any provider (`jwt_authn`: 401 otherwise),
then its RBAC policy (403 otherwise) requires a payload verified by one of the route's
providers whose roles claim holds the roles asked for. A required permission is compiled into
the roles that grant it, from the declared roles: changing a role's permissions recompiles the
routes and pushes them over RDS. A route the auth service checks (API keys, or an owner rule)
turns `ext_authz` on instead, and not `jwt_authn`: the service verifies its JWTs too; it gets
the route's role terms as a `RoutePolicy` (see auth_resources.py).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from envoy.config.rbac.v3 import rbac_pb2 as rbac_config_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2

from authcontract import denials
from controlplane.model import AuthenticatedAuth, JwtProviderSpec, RoleSpec, RouteAuth
from controlplane.translator.auth_extauthz import EXTAUTHZ_FILTER, extauthz_per_route
from controlplane.translator.auth_filters import (
    IDENTITY_FILTER,
    JWT_FILTER,
    JWT_METADATA_NAMESPACE,
    RBAC_FILTER,
    identity_per_route,
    jwt_per_route,
)
from controlplane.translator.auth_jwt import ANY_PROVIDER
from controlplane.translator.protos import packed

_NOBODY: dict[str, Any] = {"not_id": {"any": True}}


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What protected routes take from the declared providers and roles."""

    roles_claims: Mapping[str, tuple[str, ...]]  # provider -> path of its roles claim
    granted_by: Mapping[str, tuple[str, ...]]  # permission -> the roles granting it


def auth_context(providers: Iterable[JwtProviderSpec], roles: Iterable[RoleSpec]) -> AuthContext:
    granted: dict[str, set[str]] = {}
    for role in roles:
        for permission in role.permissions:
            granted.setdefault(permission, set()).add(role.name)
    return AuthContext(
        roles_claims={p.name: tuple(p.claims.roles.split(".")) for p in providers},
        granted_by={permission: tuple(sorted(names)) for permission, names in granted.items()},
    )


def per_filter_configs(
    route: str, auth: RouteAuth, context: AuthContext, *, auth_service: bool
) -> dict[str, Any]:
    """`Route.typed_per_filter_config` of the route; nothing for a public one.

    A route whose credentials the auth service checks turns `ext_authz` on; without an auth
    service (the settings changed since it was stored) its RBAC policy lets nobody in."""
    if not isinstance(auth, AuthenticatedAuth):
        return {}
    if auth.needs_service():
        if auth_service:
            return {EXTAUTHZ_FILTER: extauthz_per_route(route)}
        return {RBAC_FILTER: packed(_refuse_unless(_NOBODY, denials.NO_POLICY))}
    providers = auth.jwt_providers()
    principal = {"or_ids": {"ids": [_caller(auth, p, context) for p in providers]}}
    claims = [(p, context.roles_claims[p]) for p in providers if p in context.roles_claims]
    return {
        JWT_FILTER: jwt_per_route(ANY_PROVIDER),
        RBAC_FILTER: packed(_refuse_unless(principal, denials.MISSING_ROLE)),
        IDENTITY_FILTER: identity_per_route(claims),
    }


def _refuse_unless(principal: dict[str, Any], code: str) -> Any:
    """Refuses every caller but `principal`'s by a DENY policy named `code`, the refusal's
    code: Envoy's response code details then say why (see auth_filters.denial_replies)."""
    policy = {"permissions": [{"any": True}], "principals": [{"not_id": principal}]}
    return rbac_pb2.RBACPerRoute(
        rbac={"rules": {"action": rbac_config_pb2.RBAC.DENY, "policies": {code: policy}}}
    )


def required_role_sets(auth: AuthenticatedAuth, context: AuthContext) -> list[tuple[str, ...]]:
    """What the route asks of a caller's roles: one role of each set. A permission is the set
    of roles granting it (empty: nobody holds it)."""
    sets: list[tuple[str, ...]] = []
    if auth.roles_any_of:
        sets.append(tuple(auth.roles_any_of))
    if auth.permissions_any_of:
        granting = {r for p in auth.permissions_any_of for r in context.granted_by.get(p, ())}
        sets.append(tuple(sorted(granting)))
    sets.extend(context.granted_by.get(p, ()) for p in auth.permissions_all_of)
    return sets


def _caller(auth: AuthenticatedAuth, provider: str, context: AuthContext) -> dict[str, Any]:
    """A caller with a token of `provider` who meets the route's role and permission terms."""
    claim = context.roles_claims.get(provider)
    if claim is None:
        return _NOBODY  # the provider is gone: its tokens open nothing
    terms = [_metadata(provider, (), None)]
    terms.extend(_any_role(provider, claim, roles) for roles in required_role_sets(auth, context))
    return {"and_ids": {"ids": terms}}


def _any_role(provider: str, claim: tuple[str, ...], roles: Iterable[str]) -> dict[str, Any]:
    ids = [_metadata(provider, claim, role) for role in roles]
    return {"or_ids": {"ids": ids}} if ids else _NOBODY


def _metadata(provider: str, claim: tuple[str, ...], role: str | None) -> dict[str, Any]:
    """The verified payload of `provider` is there (role None), or its claim holds `role`: as
    a list of roles or as a single string."""
    if role is None:
        value: dict[str, Any] = {"present_match": True}
    else:
        value = {
            "or_match": {
                "value_matchers": [
                    {"list_match": {"one_of": {"string_match": {"exact": role}}}},
                    {"string_match": {"exact": role}},
                ]
            }
        }
    path = [{"key": key} for key in (provider, *claim)]
    matcher = {"filter": JWT_METADATA_NAMESPACE, "path": path, "value": value}
    return {"sourced_metadata": {"metadata_matcher": matcher}}
