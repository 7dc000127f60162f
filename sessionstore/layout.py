"""Session ids, what Redis stores of them, and where.

A session id is 256 random bits, URL-safe: nobody can guess one. Redis holds only its SHA-256
(a dump of Redis hands out no live session; a random id needs no key or slow hash), under
`<prefix>s:<hash>`, and each player's sessions are a set of those hashes under
`<prefix>p:<player>`, so that a ban finds them all. The fingerprint, the start of the hash,
names a session to upstreams and admins without letting anyone use it.

Single Redis only (not Redis Cluster): the scripts reach a player's set from a session and
back.
"""

import hashlib
import re
import secrets

ID_BYTES = 32
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, no padding.
_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
FINGERPRINT_LENGTH = 16
DEFAULT_PREFIX = "chaosgw:session:"
# The local Redis, as the rate limiter's default.
DEFAULT_URL = "redis://127.0.0.1:6379/0"
# How long Redis keeps the record of a session past its expiry: a caller presenting it in that
# time is told it expired rather than that it is unknown.
EXPIRED_KEPT_MS = 3_600_000


def new_session_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def well_formed(session_id: str) -> bool:
    """Could be an id at all: anything else is refused without asking Redis."""
    return _ID_SHAPE.fullmatch(session_id) is not None


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(hashed: str) -> str:
    """The non-secret name of the session whose hash is `hashed`."""
    return hashed[:FINGERPRINT_LENGTH]


class Keys:
    """The Redis keys under one prefix (tests give each their own)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix

    def session(self, hashed: str) -> str:
        return f"{self.prefix}s:{hashed}"

    def player(self, player_id: str) -> str:
        return f"{self.prefix}p:{player_id}"
