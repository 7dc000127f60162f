"""How the gateway refuses a request, whether Envoy or the auth service refused it: the
challenge, the reason codes and the JSON body `{"error": {"code", "reason"}}`, never an echo of
the request."""

import json

REALM = "chaosgw"
# RFC 7235 challenges by scheme (RFC 6750 for bearer tokens).
BEARER_CHALLENGE = f'Bearer realm="{REALM}"'
API_KEY_CHALLENGE = f'ApiKey realm="{REALM}"'
SESSION_CHALLENGE = f'Session realm="{REALM}"'

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

# Envoy's own refusals, by their response code details. jwt_authn's are
# `jwt_authn_access_denied{<status>}`, jwt_verify_lib's status with spaces made underscores.
JWT_DENIED = "jwt_authn_access_denied"
JWT_MISSING = "Jwt_is_missing"
JWT_IS_EXPIRED = "Jwt_is_expired"
JWT_IS_NOT_YET_VALID = "Jwt_not_yet_valid"
JWT_VERIFICATION_FAILS = "Jwt_verification_fails"
JWT_UNKNOWN_ISSUER = "Jwt_issuer_is_not_configured"
JWT_BAD_AUDIENCE = "Audiences_in_Jwt_are_not_allowed"
JWT_NO_KEY = "Jwks_doesn't_have_key_to_match_kid_or_alg_from_Jwt"
JWT_MULTIPLE = "Found_multiple_Jwt_tokens"
# The gateway's RBAC policies are named for their refusal's code (see translator/auth_route.py).
RBAC_DENIED = "rbac_access_denied_matched_policy"


def body(code: str) -> str:
    """The JSON body of a refusal with `code`."""
    return json.dumps({"error": {"code": code, "reason": REASONS[code][1]}})
