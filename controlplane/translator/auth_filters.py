"""What every listener's connection manager needs for auth, and how denials look to callers.

1. An early header mutation removing the identity headers (`x-chaosgw-*`) a client may have
   sent, on every request, before routing and before any filter: only what the gateway itself
   verified ever reaches a route match, the rate limiters or an upstream. (Envoy runs it without
   the per-stream filter object an HTTP filter costs; the route's `request_headers_to_remove`
   would come too late, after `jwt_authn` wrote the verified values.)

Then these HTTP filters, in this order, before the router:

2. `jwt_authn`, whose configuration (providers, keys) arrives over ECDS as its own resource:
   adding a provider or rotating its keys changes that resource, never the listener, so no
   player's connection is drained. The listener has no default for it: until Envoy holds the
   configuration the listener stays warming, and serves nothing unchecked;
3. `rbac`, empty here: each protected route carries its own policy (over RDS);
4. a header mutation writing `x-chaosgw-roles` from the verified payload (see
   `identity_per_route`), empty here too.

All are disabled in the listener, and each protected route's per-route configs enable them:
routes that name no requirement skip them. The listener's part is constant, whatever
providers, roles and routes are declared.
"""

from collections.abc import Iterable
from typing import Any

from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import base_pb2, extension_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.filters.http.header_mutation.v3 import (
    header_mutation_pb2 as route_header_mutation_pb2,
)
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.http.early_header_mutation.header_mutation.v3 import (
    header_mutation_pb2,
)
from google.protobuf import struct_pb2

from authcontract import denials
from authcontract.identity import IDENTITY_HEADERS, NO_ROLES, ROLES_HEADER
from controlplane.translator.protos import ads_source, packed

IDENTITY_STRIP = "chaosgw.identity_headers"
# The ECDS resource name too (Envoy fetches a discovered filter's config by its name).
JWT_FILTER = "chaosgw.jwt_authn"
RBAC_FILTER = "chaosgw.rbac"
IDENTITY_FILTER = "chaosgw.identity"
# Where jwt_authn puts verified payloads, under each provider's name.
JWT_METADATA_NAMESPACE = "envoy.filters.http.jwt_authn"
_APPEND = base_pb2.HeaderValueOption
JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"

# jwt_authn's refusals as the auth service's codes; any other status is `invalid_token`.
JWT_DENIALS = {
    denials.JWT_MISSING: denials.MISSING,
    denials.JWT_IS_EXPIRED: denials.JWT_EXPIRED,
    denials.JWT_IS_NOT_YET_VALID: denials.JWT_NOT_YET_VALID,
    denials.JWT_VERIFICATION_FAILS: denials.JWT_SIGNATURE,
    denials.JWT_UNKNOWN_ISSUER: denials.JWT_ISSUER,
    denials.JWT_BAD_AUDIENCE: denials.JWT_AUDIENCE,
    denials.JWT_NO_KEY: denials.JWT_UNKNOWN_KEY,
}
# A route's RBAC policy is named for the refusal it makes (see auth_route.py).
RBAC_DENIALS = (denials.MISSING_ROLE, denials.NO_POLICY)


def identity_strip() -> extension_pb2.TypedExtensionConfig:
    """`HttpConnectionManager.early_header_mutation_extensions` entry."""
    strip = header_mutation_pb2.HeaderMutation(
        mutations=[mutation_rules_pb2.HeaderMutation(remove=name) for name in IDENTITY_HEADERS]
    )
    return extension_pb2.TypedExtensionConfig(name=IDENTITY_STRIP, typed_config=packed(strip))


def auth_http_filters() -> list[Any]:
    return [
        hcm_pb2.HttpFilter(
            name=JWT_FILTER,
            config_discovery={"config_source": ads_source(), "type_urls": [JWT_AUTHN_TYPE]},
            disabled=True,
        ),
        hcm_pb2.HttpFilter(name=RBAC_FILTER, typed_config=packed(rbac_pb2.RBAC()), disabled=True),
        hcm_pb2.HttpFilter(
            name=IDENTITY_FILTER,
            typed_config=packed(route_header_mutation_pb2.HeaderMutation()),
            disabled=True,
        ),
    ]


def identity_per_route(roles_claims: Iterable[tuple[str, tuple[str, ...]]]) -> Any:
    """The roles of a token verified by `jwt_authn`, for each (provider, claim path), as the
    auth service writes them (authcontract.identity): Envoy renders a list claim of the
    payload as compact JSON. Only the provider that verified the token has a payload; with
    none, or no roles claim, the value is empty and not written, and the last mutation gives
    `[]`. (Mutations apply in order.)"""
    mutations = [
        _header(ROLES_HEADER, _payload(provider, claim), _APPEND.OVERWRITE_IF_EXISTS_OR_ADD)
        for provider, claim in roles_claims
    ]
    mutations.append(_header(ROLES_HEADER, NO_ROLES, _APPEND.ADD_IF_ABSENT))
    return packed(
        route_header_mutation_pb2.HeaderMutationPerRoute(mutations={"request_mutations": mutations})
    )


def _payload(provider: str, claim: tuple[str, ...]) -> str:
    return f"%DYNAMIC_METADATA({':'.join((JWT_METADATA_NAMESPACE, provider, *claim))})%"


def _header(name: str, value: str, action: Any) -> dict[str, Any]:
    return {"append": {"header": {"key": name, "value": value}, "append_action": action}}


def denial_replies() -> Any:
    """Envoy's own auth refusals look like the auth service's: the same status, challenge
    (`WWW-Authenticate: Bearer realm="chaosgw"`, replacing Envoy's, which echoes the request's
    host and path) and body `{"error": {"code", "reason"}}` with the same codes. Every refusal
    of `jwt_authn` is a 401 (also those it answers 403 by itself, a wrong audience); a 403 is a
    valid token lacking permission (RBAC). Other 403s of the gateway's own (client IP lists)
    get the same shape with Envoy's response code details as the reason; the auth service's
    denials are its own and kept."""
    mappers = [
        _mapper(f'response.code_details == "{denials.JWT_DENIED}{{{status}}}"', code)
        for status, code in JWT_DENIALS.items()
    ]
    denied = f'response.code_details.startsWith("{denials.JWT_DENIED}")'
    mappers.append(_mapper(denied, denials.BAD_JWT))
    mappers.extend(
        _mapper(f'response.code_details == "{denials.RBAC_DENIED}[{code}]"', code)
        for code in RBAC_DENIALS
    )
    other = _body_format("forbidden", "%RESPONSE_CODE_DETAILS%")
    mappers.append(
        hcm_pb2.ResponseMapper(
            filter=_cel('response.code == 403 && response.code_details != "ext_authz_denied"'),
            body_format_override=other,
        )
    )
    return hcm_pb2.LocalReplyConfig(mappers=mappers)


def _mapper(expression: str, code: str) -> Any:
    status, reason = denials.REASONS[code]
    challenge = [
        {
            "header": {"key": "www-authenticate", "value": denials.BEARER_CHALLENGE},
            "append_action": base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
        }
    ]
    return hcm_pb2.ResponseMapper(
        filter=_cel(expression),
        status_code={"value": status},
        body_format_override=_body_format(code, reason),
        headers_to_add=challenge if status == 401 else [],
    )


def _cel(expression: str) -> dict[str, Any]:
    return {
        "extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": packed(cel_pb2.ExpressionFilter(expression=expression)),
        }
    }


def _body_format(code: str, reason: str) -> dict[str, Any]:
    body = struct_pb2.Struct()
    body.update({"error": {"code": code, "reason": reason}})
    return {"json_format": body}


def jwt_per_route(requirement: str) -> Any:
    return packed(jwt_pb2.PerRouteConfig(requirement_name=requirement))
