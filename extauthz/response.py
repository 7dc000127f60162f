"""CheckResponses, serialized once: denials are built once per reason and challenge, and an
identity's admission once per identity (kept on it).

Admitted: the caller's identity goes upstream in headers (overwriting anything a client sent)
and to Envoy's dynamic metadata for the rate limiter, and the credential itself is removed from
the request. Denied: 401 with `WWW-Authenticate` naming the schemes the route accepts when no
valid credential came, 403 when the credential lacks permission; a small JSON body with a
reason code, never the credential.
"""

import functools

from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2
from google.rpc import code_pb2, status_pb2

from authcontract import denials
from authcontract.identity import (
    API_KEY_ID_HEADER,
    PLAYER_ID_HEADER,
    ROLES_HEADER,
    SESSION_ID_HEADER,
    TIER_HEADER,
    roles_value,
)
from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION, Identity

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

CheckResponse = external_auth_pb2.CheckResponse

# The challenge of each credential kind.
CHALLENGES = {
    API_KEY: denials.API_KEY_CHALLENGE,
    JWT: denials.BEARER_CHALLENGE,
    OAUTH2: denials.BEARER_CHALLENGE,
    SESSION: denials.SESSION_CHALLENGE,
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
        ROLES_HEADER: roles_value(roles),
        TIER_HEADER: identity.tier,
        API_KEY_ID_HEADER: identity.api_key_id,
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
                if value
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


@functools.cache
def denied(reason: str, challenge: str) -> bytes:
    """The refusal for `reason` (denials.REASONS); a 401 names the route's schemes in
    `challenge`."""
    status = denials.REASONS[reason][0]
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
            body=denials.body(reason),
        ),
    )
    encoded: bytes = check.SerializeToString()
    return encoded
