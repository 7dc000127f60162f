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
3. `rbac`, empty here: each protected route carries its own policy (over RDS).

Both are disabled in the listener, and each protected route's per-route configs enable them:
routes that name no requirement skip both. The listener's part is constant, whatever
providers, roles and routes are declared.
"""

from typing import Any

from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import base_pb2, extension_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.http.early_header_mutation.header_mutation.v3 import (
    header_mutation_pb2,
)
from google.protobuf import struct_pb2

from controlplane.translator.protos import ads_source, packed

IDENTITY_STRIP = "chaosgw.identity_headers"
# The ECDS resource name too (Envoy fetches a discovered filter's config by its name).
JWT_FILTER = "chaosgw.jwt_authn"
RBAC_FILTER = "chaosgw.rbac"
# Where jwt_authn puts verified payloads, under each provider's name.
JWT_METADATA_NAMESPACE = "envoy.filters.http.jwt_authn"
JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"

PLAYER_ID_HEADER = "x-chaosgw-player-id"
ROLES_HEADER = "x-chaosgw-roles"
TIER_HEADER = "x-chaosgw-tier"
API_KEY_ID_HEADER = "x-chaosgw-api-key-id"
SESSION_ID_HEADER = "x-chaosgw-session-id"
IDENTITY_HEADERS = (
    PLAYER_ID_HEADER,
    ROLES_HEADER,
    TIER_HEADER,
    API_KEY_ID_HEADER,
    SESSION_ID_HEADER,
)
WWW_AUTHENTICATE = 'Bearer realm="chaosgw", error="invalid_token"'


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
    ]


def denial_replies() -> Any:
    """Denials answered by the gateway itself carry a small JSON body with the reason (Envoy's
    response code details, e.g. `jwt_authn_access_denied{Jwt_is_expired}`), never the token.

    Every refusal of `jwt_authn` is a 401 with `WWW-Authenticate` (RFC 6750: the token is
    missing or invalid), also those it answers 403 by itself (a wrong audience); a 403 is left
    for a valid token that lacks permission (RBAC)."""
    bad_token = hcm_pb2.ResponseMapper(
        filter={
            "extension_filter": {
                "name": "envoy.access_loggers.extension_filters.cel",
                "typed_config": packed(
                    cel_pb2.ExpressionFilter(
                        expression='response.code_details.startsWith("jwt_authn_access_denied")'
                    )
                ),
            }
        },
        status_code={"value": 401},
        body_format_override={"json_format": _body("unauthenticated")},
        headers_to_add=[
            {
                "header": {"key": "www-authenticate", "value": WWW_AUTHENTICATE},
                "append_action": base_pb2.HeaderValueOption.ADD_IF_ABSENT,
            }
        ],
    )
    # The auth service writes its own denials' bodies (with its reason codes): they are kept.
    forbidden = hcm_pb2.ResponseMapper(
        filter={
            "extension_filter": {
                "name": "envoy.access_loggers.extension_filters.cel",
                "typed_config": packed(
                    cel_pb2.ExpressionFilter(
                        expression="response.code == 403 "
                        '&& response.code_details != "ext_authz_denied"'
                    )
                ),
            }
        },
        body_format_override={"json_format": _body("forbidden")},
    )
    return hcm_pb2.LocalReplyConfig(mappers=[bad_token, forbidden])


def _body(error: str) -> struct_pb2.Struct:
    body = struct_pb2.Struct()
    body.update({"error": error, "reason": "%RESPONSE_CODE_DETAILS%"})
    return body


def jwt_per_route(requirement: str) -> Any:
    return packed(jwt_pb2.PerRouteConfig(requirement_name=requirement))
