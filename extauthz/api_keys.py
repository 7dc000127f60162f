"""API keys: the keys pushed by the control plane, indexed by their keyed hash, and their check.

A presented key is hashed with the shared secret and looked up in memory: no I/O on the path.
Each key's identity (and so its admission) is built when the key arrives, not per request.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chaosgw.auth.v1 import auth_pb2

from authcontract import denials
from extauthz import metrics
from extauthz.identity import API_KEY, Identity, Presented
from extauthz.policies import InvalidResources, RoutePolicy

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Key:
    identity: Identity
    expires_at: float | None  # seconds since the epoch


def compile_keys(messages: Sequence[auth_pb2.ApiKey]) -> dict[str, Key]:
    """The keys by their keyed hash."""
    keys: dict[str, Key] = {}
    ids: set[str] = set()
    for message in messages:
        if not message.id or message.id in ids:
            raise InvalidResources(f"API key {message.id!r}: no id, or an id seen twice")
        if len(message.key_hash) != 64 or not _HEX.issuperset(message.key_hash):
            raise InvalidResources(f"API key {message.id!r}: key_hash is not a SHA-256 hex digest")
        if message.key_hash in keys:
            raise InvalidResources(f"API key {message.id!r}: another key has the same hash")
        ids.add(message.id)
        expires_at = (
            message.expires_at.ToNanoseconds() / 1e9 if message.HasField("expires_at") else None
        )
        identity = Identity(
            kind=API_KEY, roles=frozenset(message.roles), tier=message.tier, api_key_id=message.id
        )
        keys[message.key_hash] = Key(identity, expires_at)
    return keys


class ApiKeys:
    """Checks presented keys against the live set, replaced whole by its subscription."""

    def __init__(self, key_hash: Callable[[str], str]) -> None:
        self._hash = key_hash
        self._keys: Mapping[str, Key] = {}

    def replace(self, keys: Mapping[str, Key]) -> None:
        self._keys = keys
        metrics.API_KEYS.set(len(keys))

    async def verify(self, presented: Presented, policy: RoutePolicy) -> Identity | str:
        found = self._keys.get(self._hash(presented.value))
        if found is None:
            return denials.UNKNOWN
        if found.expires_at is not None and time.time() >= found.expires_at:
            return denials.EXPIRED
        return found.identity
