"""CheckResponses, serialized once: every denial is a constant, and each key's admission is
built when its key arrives, not per request.

Admitted: the caller's identity goes upstream in headers (overwriting anything a client sent)
and to Envoy's dynamic metadata for the rate limiter, and the key itself is removed from the
request. Denied: 401 with `WWW-Authenticate: ApiKey` when no valid key came, 403 when the key
lacks the route's roles; a small JSON body with a reason code, never the key.
"""

import json
from dataclasses import dataclass

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2
from google.rpc import code_pb2, status_pb2

API_KEY_HEADER = "x-api-key"
AUTHORIZATION_HEADER = "authorization"
KEY_ID_HEADER = "x-chaosgw-api-key-id"
ROLES_HEADER = "x-chaosgw-roles"
TIER_HEADER = "x-chaosgw-tier"
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

CheckResponse = external_auth_pb2.CheckResponse


@dataclass(frozen=True, slots=True)
class Allowed:
    """A key's admission, with the header that carried it removed."""

    from_api_key_header: bytes
    from_authorization: bytes


def allowed(key_id: str, roles: tuple[str, ...], tier: str) -> Allowed:
    identity = {KEY_ID_HEADER: key_id, ROLES_HEADER: ",".join(roles)}
    if tier:
        identity[TIER_HEADER] = tier
    metadata = struct_pb2.Struct()
    metadata.update({"api_key_id": key_id, "roles": list(roles), "tier": tier})

    def build(carrier: str) -> bytes:
        check = CheckResponse(
            status=status_pb2.Status(code=code_pb2.OK),
            ok_response=external_auth_pb2.OkHttpResponse(
                headers=[
                    base_pb2.HeaderValueOption(
                        header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE
                    )
                    for name, value in identity.items()
                ],
                headers_to_remove=[carrier],
            ),
            dynamic_metadata=metadata,
        )
        encoded: bytes = check.SerializeToString(deterministic=True)
        return encoded

    return Allowed(build(API_KEY_HEADER), build(AUTHORIZATION_HEADER))


def _denied(status: int, code: str, reason: str) -> bytes:
    headers = [("content-type", "application/json")]
    if status == 401:
        headers.append(("www-authenticate", "ApiKey"))
    check = CheckResponse(
        status=status_pb2.Status(
            code=code_pb2.UNAUTHENTICATED if status == 401 else code_pb2.PERMISSION_DENIED
        ),
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=status),
            headers=[
                base_pb2.HeaderValueOption(
                    header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE
                )
                for name, value in headers
            ],
            body=json.dumps({"error": {"code": code, "reason": reason}}),
        ),
    )
    encoded: bytes = check.SerializeToString()
    return encoded


# Reasons: the `reason` label of the decisions metric, and the body's `code`.
MISSING = "missing_credential"
UNKNOWN = "unknown_key"
EXPIRED = "expired_key"
MISSING_ROLE = "missing_role"
NO_POLICY = "no_route_policy"
WRONG_KIND = "credential_not_accepted"

DENIALS = {
    MISSING: _denied(401, MISSING, "an API key is required (x-api-key header)"),
    UNKNOWN: _denied(401, UNKNOWN, "the API key is not valid"),
    EXPIRED: _denied(401, EXPIRED, "the API key has expired"),
    MISSING_ROLE: _denied(403, MISSING_ROLE, "the API key lacks a role this route requires"),
    NO_POLICY: _denied(403, NO_POLICY, "the gateway has no auth policy for this route yet"),
    WRONG_KIND: _denied(403, WRONG_KIND, "this route does not accept API keys"),
}
