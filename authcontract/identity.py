"""The identity headers an upstream receives, whether Envoy or the auth service admitted."""

PLAYER_ID_HEADER = "x-chaosgw-player-id"
ROLES_HEADER = "x-chaosgw-roles"
TIER_HEADER = "x-chaosgw-tier"
API_KEY_ID_HEADER = "x-chaosgw-api-key-id"
SESSION_ID_HEADER = "x-chaosgw-session-id"
# Stripped from every request before any filter: only the gateway writes them.
IDENTITY_HEADERS = (
    PLAYER_ID_HEADER,
    ROLES_HEADER,
    TIER_HEADER,
    API_KEY_ID_HEADER,
    SESSION_ID_HEADER,
)
