"""CheckResponses, serialized once: denials are built once per reason and challenge, and an
identity's admission once per identity (kept on it).

Admitted: the caller's identity goes upstream in headers (overwriting anything a client sent)
and to Envoy's dynamic metadata for the rate limiter, and the credential itself is removed from
the request. Denied: 401 with `WWW-Authenticate` naming the schemes the route accepts when no
valid credential came, 403 when the credential lacks permission; a small JSON body with a
reason code, never the credential.
"""

import functools
import json

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2
from google.rpc import code_pb2, status_pb2

from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION, Identity

PLAYER_ID_HEADER = "x-chaosgw-player-id"
ROLES_HEADER = "x-chaosgw-roles"
TIER_HEADER = "x-chaosgw-tier"
KEY_ID_HEADER = "x-chaosgw-api-key-id"
SESSION_ID_HEADER = "x-chaosgw-session-id"
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

CheckResponse = external_auth_pb2.CheckResponse

# RFC 7235 challenges by credential kind (RFC 6750 for bearer tokens).
CHALLENGES = {
    API_KEY: 'ApiKey realm="chaosgw"',
    JWT: 'Bearer realm="chaosgw"',
    OAUTH2: 'Bearer realm="chaosgw"',
    SESSION: 'Session realm="chaosgw"',
}


def challenge(kinds: list[str]) -> str:
    """The `WWW-Authenticate` value for a route accepting `kinds`, each scheme once."""
    return ", ".join(dict.fromkeys(CHALLENGES[kind] for kind in kinds))


def admitted(identity: Identity, carrier: str, kept: str = "") -> bytes:
    """The answer letting `identity` through, the credential's header `carrier` removed, or
    replaced by `kept` (the other cookies: that answer is the request's own, never kept)."""
    if kept:
        return _admission(identity, carrier, kept)
    answer = identity.answers.get(carrier)
    if answer is None:
        answer = identity.answers[carrier] = _admission(identity, carrier)
    return answer


def _admission(identity: Identity, carrier: str, kept: str = "") -> bytes:
    roles = sorted(identity.roles)
    upstream = {
        PLAYER_ID_HEADER: identity.player_id,
        ROLES_HEADER: ",".join(roles),
        TIER_HEADER: identity.tier,
        KEY_ID_HEADER: identity.api_key_id,
        SESSION_ID_HEADER: identity.session_id,
    }
    metadata = struct_pb2.Struct()
    metadata.update(
        {
            "kind": identity.kind,
            "player_id": identity.player_id,
            "roles": roles,
            "tier": identity.tier,
            "api_key_id": identity.api_key_id,
            "session_id": identity.session_id,
        }
    )
    if kept:
        upstream[carrier] = kept
    check = CheckResponse(
        status=status_pb2.Status(code=code_pb2.OK),
        ok_response=external_auth_pb2.OkHttpResponse(
            headers=[
                base_pb2.HeaderValueOption(
                    header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE
                )
                for name, value in upstream.items()
                if value or name == ROLES_HEADER
            ],
            # Overwritten with what is kept of it, or removed; a token from the query string
            # ("?name") is not passed on either.
            headers_to_remove=[carrier] if carrier and carrier[0] != "?" and not kept else [],
            query_parameters_to_remove=[carrier[1:]] if carrier[:1] == "?" else [],
        ),
        dynamic_metadata=metadata,
    )
    encoded: bytes = check.SerializeToString(deterministic=True)
    return encoded


# Reasons: the `reason` label of the decisions metric, and the body's `code`; with the status
# and the body's explanation.
MISSING = "missing_credential"
UNKNOWN = "unknown_key"
EXPIRED = "expired_key"
MISSING_ROLE = "missing_role"
NO_POLICY = "no_route_policy"
BAD_JWT = "invalid_token"
JWT_ALGORITHM = "token_algorithm_refused"
JWT_ISSUER = "token_issuer_not_accepted"
JWT_AUDIENCE = "token_wrong_audience"
JWT_EXPIRED = "token_expired"
JWT_NOT_YET_VALID = "token_not_yet_valid"
JWT_UNKNOWN_KEY = "token_unknown_key"
JWT_SIGNATURE = "token_bad_signature"
JWT_SOURCE = "token_source_not_allowed"
NOT_OWNER = "not_owner"
INACTIVE_TOKEN = "inactive_token"  # noqa: S105 - a reason code, not a secret
TOKEN_NOT_ACCEPTED = "token_not_accepted"  # noqa: S105
INSUFFICIENT_SCOPE = "insufficient_scope"
INTROSPECTION_UNAVAILABLE = "introspection_unavailable"
UNKNOWN_SESSION = "unknown_session"
EXPIRED_SESSION = "expired_session"
SESSION_STORE_UNAVAILABLE = "session_store_unavailable"

REASONS: dict[str, tuple[int, str]] = {
    MISSING: (401, "a credential this route accepts is required"),
    UNKNOWN: (401, "the API key is not valid"),
    EXPIRED: (401, "the API key has expired"),
    MISSING_ROLE: (403, "the credential lacks a role this route requires"),
    NO_POLICY: (403, "the gateway has no auth policy for this route yet"),
    BAD_JWT: (401, "the token is not a well-formed JWT with the claims required"),
    JWT_ALGORITHM: (401, "the token's signature algorithm is not accepted"),
    JWT_ISSUER: (401, "the token's issuer is not one this route accepts"),
    JWT_AUDIENCE: (401, "the token is not meant for this audience"),
    JWT_EXPIRED: (401, "the token has expired"),
    JWT_NOT_YET_VALID: (401, "the token is not valid yet"),
    JWT_UNKNOWN_KEY: (401, "the token is signed with a key the provider does not publish"),
    JWT_SIGNATURE: (401, "the token's signature does not verify"),
    JWT_SOURCE: (401, "the token came from a place its provider does not allow"),
    NOT_OWNER: (403, "the path names a resource of another player"),
    INACTIVE_TOKEN: (401, "the access token is not active"),
    TOKEN_NOT_ACCEPTED: (401, "the access token was not issued for this gateway"),
    INSUFFICIENT_SCOPE: (403, "the access token lacks a scope this gateway requires"),
    # The provider could not say: refused, and not the caller's fault.
    INTROSPECTION_UNAVAILABLE: (503, "the access token cannot be checked now; try again later"),
    UNKNOWN_SESSION: (401, "the session is not valid (unknown, logged out or revoked)"),
    EXPIRED_SESSION: (401, "the session has expired; log in again"),
    SESSION_STORE_UNAVAILABLE: (503, "the session store does not answer; try again"),
}


@functools.cache
def denied(reason: str, challenge: str) -> bytes:
    """The refusal for `reason`; a 401 names the route's schemes in `challenge`."""
    status, explanation = REASONS[reason]
    headers = [("content-type", "application/json")]
    if status == 401:
        headers.append(("www-authenticate", challenge))
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
            body=json.dumps({"error": {"code": reason, "reason": explanation}}),
        ),
    )
    encoded: bytes = check.SerializeToString()
    return encoded
