"""The keys and route policies pushed by the control plane, checked and indexed for lookups on
the hot path. Each set is taken whole or refused whole (the ADS subscriber NACKs it): the
service never decides with half of an update. Every key's answer is built here, once."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chaosgw.auth.v1 import auth_pb2

from extauthz import metrics, response

API_KEY_TYPE_URL = "type.googleapis.com/" + auth_pb2.ApiKey.DESCRIPTOR.full_name
ROUTE_POLICY_TYPE_URL = "type.googleapis.com/" + auth_pb2.RoutePolicy.DESCRIPTOR.full_name
_HEX = frozenset("0123456789abcdef")


class InvalidResources(ValueError):
    """The set cannot be applied; the message says which resource and why (never a hash)."""


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    roles: frozenset[str]
    expires_at: float | None  # seconds since the epoch
    # The answers admitting its holder, by where the key came from.
    allowed: response.Allowed


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    route: str
    api_keys: bool
    # One role of each set.
    required: tuple[frozenset[str], ...]

    def admits(self, roles: frozenset[str]) -> bool:
        return all(not required.isdisjoint(roles) for required in self.required)


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
        keys[message.key_hash] = Key(
            id=message.id,
            roles=frozenset(message.roles),
            expires_at=expires_at,
            allowed=response.allowed(message.id, tuple(message.roles), message.tier),
        )
    return keys


def compile_policies(messages: Sequence[auth_pb2.RoutePolicy]) -> dict[str, RoutePolicy]:
    policies: dict[str, RoutePolicy] = {}
    for message in messages:
        if not message.route or message.route in policies:
            raise InvalidResources(f"route policy {message.route!r}: no route, or one seen twice")
        policies[message.route] = RoutePolicy(
            route=message.route,
            api_keys=auth_pb2.RoutePolicy.API_KEY in message.credentials,
            required=tuple(frozenset(required.roles) for required in message.required),
        )
    return policies


@dataclass
class Book:
    """What one process decides with; each field replaced whole by its subscription."""

    keys: Mapping[str, Key] = field(default_factory=dict)
    policies: Mapping[str, RoutePolicy] = field(default_factory=dict)

    def set_keys(self, keys: Mapping[str, Key]) -> None:
        self.keys = keys
        metrics.API_KEYS.set(len(keys))

    def set_policies(self, policies: Mapping[str, RoutePolicy]) -> None:
        self.policies = policies
        metrics.ROUTE_POLICIES.set(len(policies))
