"""The identity headers an upstream receives, whether Envoy or the auth service admitted, and
how their values are written."""

import json
from collections.abc import Iterable

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
# A caller without roles: the roles header is always there on an admitted request.
NO_ROLES = "[]"


def roles_value(roles: Iterable[str]) -> str:
    """`x-chaosgw-roles`: the roles as a compact JSON array of strings (`["gm","player"]`), the
    way Envoy renders a verified token's list claim."""
    return json.dumps(list(roles), separators=(",", ":"))
