"""The publisher serves the global rate-limit policies to the Python services' node group."""

from dataclasses import replace
from typing import Any

from chaosgw.ratelimit.v1 import policy_pb2

from controlplane.model import GatewayState, Limit, RateLimitPolicySpec, TierLimit
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.publisher import SnapshotPublisher
from controlplane.xds.snapshot import POLICY_GROUP, RATELIMIT_POLICY
from tests.unit.xds.gateway import listener, route, service

PER_PLAYER = RateLimitPolicySpec.model_validate(
    {
        "name": "per-player",
        "applies_to": {"type": "gateway"},
        "counted_by": ["player", {"header": "X-Client"}],
        "limit": {"requests": 60, "window_seconds": 60},
        "burst": 5,
        "tiers": {"premium": {"requests": 600}},
        "on_redis_error": {"mode": "local", "local_requests": 10},
    }
)
FLOOD = RateLimitPolicySpec.model_validate(
    {
        "name": "flood",
        "applies_to": {"type": "gateway"},
        "counted_by": ["ip"],
        "limit": {"requests": 100, "window_seconds": 1},
        "enforcement": "local",
    }
)


class Store:
    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.revision = 1

    def write(self, state: GatewayState) -> None:
        self.state, self.revision = state, self.revision + 1

    def load(self) -> GatewayState:
        return replace(self.state, revision=self.revision)


def policies(cache: SnapshotCache) -> dict[str, Any]:
    resources = cache.get(POLICY_GROUP).of_type(RATELIMIT_POLICY).resources
    return {
        name: policy_pb2.RateLimitPolicy.FromString(resource.payload)
        for name, resource in resources.items()
    }


async def test_global_policies_are_published_to_the_policy_group() -> None:
    cache = SnapshotCache()
    store = Store(
        GatewayState(
            listeners=(listener("public", 10080, "edge"),),
            services=(service("users", "10.0.0.1"),),
            routes=(route("users", "users"),),
            rate_limit_policies=(PER_PLAYER, FLOOD),
        )
    )
    publisher = SnapshotPublisher(cache, store.load, lambda: store.revision, 60)

    await publisher.rebuild()

    published = policies(cache)
    assert list(published) == ["per-player"], "local policies are Envoy's, not the service's"
    assert published["per-player"] == policy_pb2.RateLimitPolicy(
        name="per-player",
        counted_by=["player", "header.x-client"],
        window_seconds=60,
        limit=policy_pb2.Limit(requests=60, burst=5),
        tiers={"premium": policy_pb2.Limit(requests=600)},
        on_redis_error=policy_pb2.RateLimitPolicy.LOCAL_FALLBACK,
        fallback_requests=10,
    )

    # A route change leaves the policy group's snapshot as it was: its nodes are not woken.
    before = cache.get(POLICY_GROUP)
    store.write(replace(store.state, routes=(route("users", "users", prefix="/players"),)))
    await publisher.rebuild()
    assert cache.get(POLICY_GROUP) is before

    # A new limit reaches the service.
    stricter = PER_PLAYER.model_copy(
        update={
            "limit": Limit(requests=30, window_seconds=60),
            "tiers": {"premium": TierLimit(requests=300)},
        }
    )
    store.write(replace(store.state, rate_limit_policies=(stricter, FLOOD)))
    await publisher.rebuild()
    assert cache.get(POLICY_GROUP).version != before.version
    assert policies(cache)["per-player"].limit.requests == 30
