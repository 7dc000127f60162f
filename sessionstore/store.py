"""The two clients of the session store: `Sessions` (synchronous: the admin API creates, lists
and revokes) and `SessionCheck` (asyncio: the auth service checks, one script call a request).

Every Redis failure comes out as StoreUnavailable, never as a decision: the admin API answers
503, the auth service refuses the request.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from sessionstore import scripts
from sessionstore.layout import (
    EXPIRED_KEPT_MS,
    Keys,
    fingerprint,
    new_session_id,
    session_hash,
    well_formed,
)

UNKNOWN: Final = "unknown"
EXPIRED: Final = "expired"


class StoreUnavailable(Exception):
    """Redis did not answer (down, too slow, or refusing)."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Whom a live session belongs to."""

    player_id: str
    roles: tuple[str, ...]
    tier: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Created:
    session_id: str
    fingerprint: str
    created_ms: int
    idle_expires_ms: int
    absolute_expires_ms: int


@dataclass(frozen=True, slots=True)
class Listed:
    fingerprint: str
    created_ms: int
    last_used_ms: int
    idle_expires_ms: int
    absolute_expires_ms: int


def sync_client(url: str, timeout_seconds: float) -> "redis.Redis":
    # One retry at once: a pooled connection Redis closed (a restart) reconnects; no back-off
    # sleeps while a caller waits.
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1),
    )


def async_client(url: str, timeout_seconds: float) -> "redis.asyncio.Redis":
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=AsyncRetry(NoBackoff(), 1),
    )


class Sessions:
    """Creates, lists and revokes sessions (the control plane's side)."""

    def __init__(self, client: "redis.Redis", keys: Keys | None = None) -> None:
        self._client = client
        self._keys = keys or Keys()
        self._create = client.register_script(scripts.CREATE)
        self._revoke = client.register_script(scripts.REVOKE)
        self._revoke_player = client.register_script(scripts.REVOKE_PLAYER)
        self._list = client.register_script(scripts.LIST)

    def create(
        self,
        player_id: str,
        roles: Sequence[str],
        tier: str,
        idle_ms: int,
        absolute_ms: int,
    ) -> Created:
        session_id = new_session_id()
        hashed = session_hash(session_id)
        keys = self._keys
        terms = [",".join(roles), tier, idle_ms, absolute_ms, EXPIRED_KEPT_MS, keys.prefix]
        now, absolute = self._call(
            self._create,
            [keys.session(hashed), keys.player(player_id)],
            [hashed, player_id, *terms],
        )
        return Created(session_id, fingerprint(hashed), now, min(now + idle_ms, absolute), absolute)

    def revoke(self, session_id: str) -> bool:
        """False: no such session (or an id that cannot be one)."""
        if not well_formed(session_id):
            return False
        hashed = session_hash(session_id)
        revoked = self._call(
            self._revoke, [self._keys.session(hashed)], [self._keys.prefix, hashed]
        )
        return bool(revoked)

    def revoke_player(self, player_id: str) -> int:
        """Revokes every session of the player; how many were live."""
        return int(
            self._call(self._revoke_player, [self._keys.player(player_id)], [self._keys.prefix])
        )

    def of_player(self, player_id: str) -> list[Listed]:
        flat = self._call(self._list, [self._keys.player(player_id)], [self._keys.prefix])
        listed = []
        for at in range(0, len(flat), 5):
            hashed, created, absolute, idle, seen = flat[at : at + 5]
            hashed = hashed.decode() if isinstance(hashed, bytes) else hashed
            absolute, seen = int(absolute), int(seen)
            listed.append(
                Listed(
                    fingerprint(hashed),
                    int(created),
                    seen,
                    min(seen + int(idle), absolute),
                    absolute,
                )
            )
        return sorted(listed, key=lambda session: (session.created_ms, session.fingerprint))

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as error:
            raise StoreUnavailable(type(error).__name__) from None


class SessionCheck:
    """Checks presented session ids (the auth service's side): one script call each, which
    also slides the idle expiry."""

    def __init__(self, client: "redis.asyncio.Redis", keys: Keys | None = None) -> None:
        self._keys = keys or Keys()
        self._check = client.register_script(scripts.CHECK)

    async def check(self, session_id: str) -> Holder | str:
        """The holder, UNKNOWN (never made, revoked, long gone) or EXPIRED; StoreUnavailable
        when Redis cannot say."""
        if not well_formed(session_id):
            return UNKNOWN
        hashed = session_hash(session_id)
        try:
            answer = await self._check(keys=[self._keys.session(hashed)], args=[EXPIRED_KEPT_MS])
        except redis.RedisError as error:
            raise StoreUnavailable(type(error).__name__) from None
        if answer[0] == 1:
            player, roles, tier = (value.decode() for value in answer[1:])
            return Holder(
                player, tuple(roles.split(",")) if roles else (), tier, fingerprint(hashed)
            )
        return EXPIRED if answer[0] == 2 else UNKNOWN
