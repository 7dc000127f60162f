"""Rate-limit policies and descriptors as the control plane and Envoy produce them."""

from collections.abc import Mapping, Sequence

from chaosgw.ratelimit.v1 import policy_pb2

from ratelimit.engine import Entries

Policy = policy_pb2.RateLimitPolicy
ALLOW = Policy.OnRedisError.ALLOW
DENY = Policy.OnRedisError.DENY
LOCAL_FALLBACK = Policy.OnRedisError.LOCAL_FALLBACK


def policy(
    name: str,
    *,
    counted_by: Sequence[str] = ("player",),
    window: int = 60,
    requests: int = 5,
    burst: int = 0,
    tiers: Mapping[str, tuple[int, int]] | None = None,
    shadow: bool = False,
    on_redis_error: policy_pb2.RateLimitPolicy.OnRedisError = ALLOW,
    fallback_requests: int = 0,
) -> policy_pb2.RateLimitPolicy:
    message = Policy(
        name=name,
        counted_by=counted_by,
        window_seconds=window,
        limit=policy_pb2.Limit(requests=requests, burst=burst),
        shadow=shadow,
        on_redis_error=on_redis_error,
        fallback_requests=fallback_requests,
    )
    for tier, (tier_requests, tier_burst) in (tiers or {}).items():
        message.tiers[tier].CopyFrom(policy_pb2.Limit(requests=tier_requests, burst=tier_burst))
    return message


def descriptor(name: str, *values: tuple[str, str], tier: str | None = None) -> Entries:
    """("policy", name), then the counted entries, then ("tier", tier) when given."""
    entries = [("policy", name), *values]
    if tier is not None:
        entries.append(("tier", tier))
    return entries


def player(player_id: str) -> tuple[str, str]:
    return ("player", player_id)
