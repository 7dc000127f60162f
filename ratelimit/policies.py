"""The policies pushed by the control plane, checked and compiled for lookups on the hot path.

A set is taken whole or refused whole (the ADS subscriber NACKs it): the service never runs
with half of an update.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chaosgw.ratelimit.v1 import policy_pb2

POLICY_MESSAGE = policy_pb2.RateLimitPolicy
POLICY_TYPE_URL = "type.googleapis.com/" + policy_pb2.RateLimitPolicy.DESCRIPTOR.full_name
OnRedisError = policy_pb2.RateLimitPolicy.OnRedisError

MAX_WINDOW_SECONDS = 86_400
# The Lua script counts in doubles: stay far below 2**53.
MAX_CEILING = 2**40


class InvalidPolicies(ValueError):
    """The set cannot be applied; the message says which policy and why."""


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    counted_by: tuple[str, ...]
    window_seconds: int
    # requests + burst, by tier ("" = no tier entry or a tier without an override).
    ceilings: Mapping[str, int]
    shadow: bool
    on_redis_error: int  # an OnRedisError value
    fallback_requests: int
    # The descriptor entries expected after ("policy", name): with or without a tier.
    has_tiers: bool

    def ceiling(self, tier: str) -> int:
        return self.ceilings.get(tier, self.ceilings[""])


@dataclass(frozen=True)
class PolicyBook:
    policies: Mapping[str, Policy]
    version: str = ""

    def get(self, name: str) -> Policy | None:
        return self.policies.get(name)


EMPTY = PolicyBook({})


def compile_policies(messages: Sequence[policy_pb2.RateLimitPolicy]) -> PolicyBook:
    """Check every policy and index them by name; InvalidPolicies names the first problem."""
    policies: dict[str, Policy] = {}
    for message in messages:
        policy = _compile(message)
        if policy.name in policies:
            raise InvalidPolicies(f"policy {policy.name!r} appears twice")
        policies[policy.name] = policy
    return PolicyBook(policies)


def _compile(message: policy_pb2.RateLimitPolicy) -> Policy:
    name = message.name
    if not name:
        raise InvalidPolicies("a policy has no name")
    if not 1 <= message.window_seconds <= MAX_WINDOW_SECONDS:
        raise InvalidPolicies(
            f"policy {name!r}: window_seconds must be 1..{MAX_WINDOW_SECONDS}, "
            f"not {message.window_seconds}"
        )
    keys = tuple(message.counted_by)
    if any(not key or key in ("policy", "tier") for key in keys) or len(set(keys)) != len(keys):
        raise InvalidPolicies(f"policy {name!r}: counted_by must be distinct, non-empty keys")
    ceilings = {"": _ceiling(name, message.limit)}
    for tier, limit in message.tiers.items():
        if not tier:
            raise InvalidPolicies(f"policy {name!r}: a tier has no name")
        ceilings[tier] = _ceiling(f"{name}/{tier}", limit)
    if message.on_redis_error == OnRedisError.LOCAL_FALLBACK and message.fallback_requests == 0:
        raise InvalidPolicies(f"policy {name!r}: LOCAL_FALLBACK needs fallback_requests > 0")
    return Policy(
        name=name,
        counted_by=keys,
        window_seconds=message.window_seconds,
        ceilings=ceilings,
        shadow=message.shadow,
        on_redis_error=message.on_redis_error,
        fallback_requests=message.fallback_requests,
        has_tiers=bool(message.tiers),
    )


def _ceiling(where: str, limit: policy_pb2.Limit) -> int:
    ceiling = limit.requests + limit.burst
    if not 0 < ceiling <= MAX_CEILING:
        raise InvalidPolicies(f"policy {where!r}: requests + burst must be 1..{MAX_CEILING}")
    return ceiling
