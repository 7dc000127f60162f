"""Rate-limit policies become Envoy rate-limit actions, token buckets and the filters that use
them, plus the `RateLimitPolicy` resources the ratelimit service decides with.

Everything a policy changes rides on route configurations (RDS): route and virtual host
`rate_limits`, and the route configuration's per-filter config. The HTTP filters themselves
depend only on the settings, so adding, editing or removing a policy never touches a listener
(which would drain its connections). Both filters are disabled in the listener: the route
configuration's per-filter config switches each on while a policy of its kind exists.

Every policy that applies to a request makes Envoy build one descriptor: ("policy", name), then
one entry per `counted_by` key in order, then ("tier", ...) for a policy with tiers. A key whose
value the request lacks makes Envoy drop the whole descriptor: the policy does not apply to it.
Global policies are stage 0, read by the ratelimit filter; local ones stage 1, read by the local
rate-limit filter, whose buckets (one per distinct value, per Envoy process) are listed once per
route configuration.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaosgw.ratelimit.v1 import policy_pb2
from envoy.config.core.v3 import config_source_pb2, grpc_service_pb2
from envoy.config.ratelimit.v3 import rls_pb2
from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2 as common_pb2
from envoy.extensions.filters.http.local_ratelimit.v3 import local_rate_limit_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.v3 import http_status_pb2

from authcontract.identity import API_KEY_ID_HEADER, PLAYER_ID_HEADER, TIER_HEADER
from controlplane.model import (
    HeaderKey,
    HostsTarget,
    RateLimitPolicySpec,
    RoutesTarget,
)
from controlplane.model.ratelimits import CountedBy, counted_key
from controlplane.model.routes import host_covers
from controlplane.translator.protos import duration_fields, packed
from controlplane.translator.service_clusters import grpc_service_cluster, host_port
from controlplane.translator.wire import field_number, length_delimited, serialize

# No user service can be named so: names have no dots.
SERVICE_CLUSTER = "chaosgw.ratelimit"
DOMAIN = "chaosgw"
RATELIMIT_FILTER = "envoy.filters.http.ratelimit"
LOCAL_FILTER = "envoy.filters.http.local_ratelimit"
LOCAL_STAT_PREFIX = "chaosgw_local_rate_limit"
GLOBAL_STAGE = 0
LOCAL_STAGE = 1

# Bounds the memory of per-value local buckets (least recently used ones go first).
MAX_LOCAL_BUCKETS = 20_000
# The local filter's default bucket when no policy's bucket matches: never runs dry. Policy
# windows are whole seconds, a multiple of its one-second refill, as Envoy requires.
_UNLIMITED_BUCKET = {
    "max_tokens": 2**32 - 1,
    "tokens_per_fill": {"value": 2**32 - 1},
    "fill_interval": {"seconds": 1},
}
_ALL = {"default_value": {"numerator": 100}}

_ROUTE_ACTION = field_number(rc_pb2.Route, "route")
_VHOST_RATE_LIMITS = field_number(rc_pb2.VirtualHost, "rate_limits")


@dataclass(frozen=True)
class RateLimitService:
    """Where Envoy asks for global decisions, and how it behaves when the service fails."""

    endpoints: tuple[tuple[str, int], ...]
    timeout_seconds: float = 0.1
    failure_mode_deny: bool = False
    # Where Envoys mount their client certificate files; empty: plaintext to the service.
    tls_dir: str = ""

    @classmethod
    def of(
        cls,
        endpoints: Iterable[str],
        timeout_seconds: float,
        failure_mode_deny: bool,
        tls_dir: str = "",
    ) -> "RateLimitService | None":
        """From `host:port` strings; None when there are none (no global rate limiting)."""
        parsed = tuple(host_port(endpoint) for endpoint in endpoints)
        return cls(parsed, timeout_seconds, failure_mode_deny, tls_dir) if parsed else None


def local_filter() -> Any:
    """Envoy's local token buckets, off until a local policy's route configuration enables it."""
    return hcm_pb2.HttpFilter(
        name=LOCAL_FILTER,
        typed_config=packed(
            local_rate_limit_pb2.LocalRateLimit(stat_prefix=LOCAL_STAT_PREFIX, stage=LOCAL_STAGE)
        ),
        disabled=True,
    )


def global_filter(service: RateLimitService) -> Any:
    """The filter that asks the rate-limit service about the route's descriptors, off until a
    global policy's route configuration enables it."""
    config = rate_limit_pb2.RateLimit(
        domain=DOMAIN,
        stage=GLOBAL_STAGE,
        timeout=duration_fields(service.timeout_seconds),
        failure_mode_deny=service.failure_mode_deny,
        # Envoy answers a failed call under failure_mode_deny with 500 unless told: say 429.
        status_on_error=http_status_pb2.HttpStatus(code=http_status_pb2.TooManyRequests)
        if service.failure_mode_deny
        else None,
        rate_limit_service=rls_pb2.RateLimitServiceConfig(
            grpc_service=grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=SERVICE_CLUSTER)
            ),
            transport_api_version=config_source_pb2.ApiVersion.V3,
        ),
        # The service adds the RateLimit-* headers itself.
        enable_x_ratelimit_headers=common_pb2.XRateLimitHeadersRFCVersion.OFF,
    )
    return hcm_pb2.HttpFilter(name=RATELIMIT_FILTER, typed_config=packed(config), disabled=True)


def build_service_cluster(service: RateLimitService) -> Any:
    """The cluster of the ratelimit service processes."""
    return grpc_service_cluster(
        SERVICE_CLUSTER, service.endpoints, "ratelimit" if service.tls_dir else None
    )


@dataclass(frozen=True)
class RateLimitPlan:
    """Where the policies of a state go in route configurations, as encoded fields to splice in.

    `configuration_fields`: `RouteConfiguration` fields every route configuration gets;
    `hosts`: domains that need a virtual host of their own for their policies to apply.
    """

    configuration_fields: bytes = b""
    hosts: frozenset[str] = frozenset()
    # Encoded `Route` fields by route name, for policies applied to named routes.
    _routes: dict[str, bytes] = field(default_factory=dict)
    # Gateway-wide policies counted by route: each route needs its own name in the descriptor.
    _every_route: tuple[RateLimitPolicySpec, ...] = ()
    # (host patterns, encoded `VirtualHost` fields) of host and gateway-wide policies.
    _virtual_hosts: tuple[tuple[tuple[str, ...], bytes], ...] = ()

    def route_fields(self, route: str) -> bytes:
        """`Route` fields to append to the route; they merge into its action."""
        limits = [_rate_limit(policy, route) for policy in self._every_route]
        if not limits:
            return self._routes.get(route, b"")
        own = self._routes.get(route, b"")
        return own + length_delimited(
            _ROUTE_ACTION, serialize(rc_pb2.RouteAction(rate_limits=limits))
        )

    def virtual_host_fields(self, domain: str) -> bytes:
        """`VirtualHost` fields for the virtual host of `domain`."""
        return b"".join(
            encoded
            for hosts, encoded in self._virtual_hosts
            if any(host_covers(host, domain) for host in hosts)
        )


def plan(
    policies: Iterable[RateLimitPolicySpec], service: RateLimitService | None
) -> RateLimitPlan:
    """Global policies apply only with a service to decide them."""
    active = sorted(
        (p for p in policies if p.enforcement == "local" or service is not None),
        key=lambda policy: policy.name,
    )
    by_route: dict[str, list[Any]] = {}
    every_route: list[RateLimitPolicySpec] = []
    virtual_hosts: list[tuple[tuple[str, ...], bytes]] = []
    for policy in active:
        target = policy.applies_to
        if isinstance(target, RoutesTarget):
            for route in target.routes:
                by_route.setdefault(route, []).append(_rate_limit(policy, route))
        elif "route" in policy.counted_by:
            every_route.append(policy)  # the model allows this for gateway-wide policies only
        else:
            hosts = tuple(target.hosts) if isinstance(target, HostsTarget) else ("*",)
            encoded = length_delimited(_VHOST_RATE_LIMITS, serialize(_rate_limit(policy, None)))
            virtual_hosts.append((hosts, encoded))
    return RateLimitPlan(
        configuration_fields=_configuration_fields(active),
        hosts=frozenset(
            host
            for policy in active
            if isinstance(policy.applies_to, HostsTarget)
            for host in policy.applies_to.hosts
        ),
        _routes={
            route: length_delimited(
                _ROUTE_ACTION, serialize(rc_pb2.RouteAction(rate_limits=limits))
            )
            for route, limits in by_route.items()
        },
        _every_route=tuple(every_route),
        _virtual_hosts=tuple(virtual_hosts),
    )


def build_policy(policy: RateLimitPolicySpec) -> Any:
    """The resource the ratelimit service receives for a global policy."""
    modes = {
        "allow": policy_pb2.RateLimitPolicy.ALLOW,
        "deny": policy_pb2.RateLimitPolicy.DENY,
        "local": policy_pb2.RateLimitPolicy.LOCAL_FALLBACK,
    }
    return policy_pb2.RateLimitPolicy(
        name=policy.name,
        counted_by=[counted_key(item) for item in policy.counted_by],
        window_seconds=policy.limit.window_seconds,
        limit=policy_pb2.Limit(requests=policy.limit.requests, burst=policy.burst),
        tiers={
            tier: policy_pb2.Limit(requests=limit.requests, burst=limit.burst)
            for tier, limit in policy.tiers.items()
        },
        shadow=policy.shadow,
        on_redis_error=modes[policy.on_redis_error.mode],
        fallback_requests=policy.on_redis_error.local_requests or 0,
    )


def _rate_limit(policy: RateLimitPolicySpec, route: str | None) -> Any:
    """The policy's descriptor as Envoy builds it; `route` names the route it is placed on."""
    actions: list[dict[str, Any]] = [
        {"generic_key": {"descriptor_key": "policy", "descriptor_value": policy.name}}
    ]
    actions.extend(_action(item, route) for item in policy.counted_by)
    if policy.tiers:
        # Absent: the descriptor goes without a tier and the base limit applies.
        actions.append(
            {
                "request_headers": {
                    "header_name": TIER_HEADER,
                    "descriptor_key": "tier",
                    "skip_if_absent": True,
                }
            }
        )
    stage = LOCAL_STAGE if policy.enforcement == "local" else GLOBAL_STAGE
    return rc_pb2.RateLimit(stage={"value": stage}, actions=actions)


def _action(item: CountedBy, route: str | None) -> dict[str, Any]:
    key = counted_key(item)
    if isinstance(item, HeaderKey):
        return {"request_headers": {"header_name": item.header.lower(), "descriptor_key": key}}
    if item == "ip":
        return {"remote_address": {}}
    if item == "route":
        # Guaranteed by the plan: route-counted policies are placed on routes.
        assert route is not None
        return {"generic_key": {"descriptor_key": key, "descriptor_value": route}}
    header = PLAYER_ID_HEADER if item == "player" else API_KEY_ID_HEADER
    return {"request_headers": {"header_name": header, "descriptor_key": key}}


def _configuration_fields(policies: Sequence[RateLimitPolicySpec]) -> bytes:
    """Per-filter configs that enable each rate-limit filter while policies of its kind apply."""
    per_filter: dict[str, Any] = {}
    if any(policy.enforcement == "global" for policy in policies):
        # A route's own limits add to its virtual host's instead of replacing them.
        per_filter[RATELIMIT_FILTER] = rate_limit_pb2.RateLimitPerRoute(
            vh_rate_limits=rate_limit_pb2.RateLimitPerRoute.INCLUDE
        )
    local = [policy for policy in policies if policy.enforcement == "local"]
    if local:
        per_filter[LOCAL_FILTER] = local_rate_limit_pb2.LocalRateLimit(
            stat_prefix=LOCAL_STAT_PREFIX,
            stage=LOCAL_STAGE,
            token_bucket=_UNLIMITED_BUCKET,
            always_consume_default_token_bucket={"value": False},
            filter_enabled=_ALL,
            filter_enforced=_ALL,
            vh_rate_limits=common_pb2.VhRateLimitsOptions.INCLUDE,
            max_dynamic_descriptors={"value": MAX_LOCAL_BUCKETS},
            descriptors=[_local_bucket(policy) for policy in local],
        )
    if not per_filter:
        return b""
    return serialize(
        route_pb2.RouteConfiguration(
            typed_per_filter_config={name: packed(config) for name, config in per_filter.items()}
        )
    )


def _local_bucket(policy: RateLimitPolicySpec) -> Any:
    # An empty value matches any value, with a bucket of its own per distinct value.
    entries = [{"key": "policy", "value": policy.name}]
    entries.extend({"key": counted_key(item), "value": ""} for item in policy.counted_by)
    return common_pb2.LocalRateLimitDescriptor(
        entries=entries,
        token_bucket={
            "max_tokens": policy.limit.requests + policy.burst,
            "tokens_per_fill": {"value": policy.limit.requests},
            "fill_interval": {"seconds": policy.limit.window_seconds},
        },
    )
