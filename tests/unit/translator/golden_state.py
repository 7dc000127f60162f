"""A fixed, realistic gateway state: the input of the translator's golden files.

Two listeners in two node groups; services with static endpoints in two priorities, a DNS
service and a gRPC one; routes with exact, prefix and regex paths, methods, header and query
matches, a weighted canary split, and hosts with leading and trailing wildcards; rate-limit
policies of every kind of attachment and counting, global and local, with a rate-limit service.
"""

from controlplane.model import (
    Backend,
    Endpoint,
    ForwardAction,
    GatewayState,
    GatewayTarget,
    HeaderKey,
    HeaderMatch,
    HostsTarget,
    Limit,
    ListenerSpec,
    OnRedisError,
    PathMatch,
    QueryParamMatch,
    RateLimitPolicySpec,
    RouteMatch,
    RouteSpec,
    RoutesTarget,
    ServiceSpec,
    TierLimit,
    Timeouts,
)
from controlplane.translator import RateLimitService

EDGE = "edge"
BACKOFFICE = "backoffice"


def _forward(*backends: tuple[str, int]) -> ForwardAction:
    return ForwardAction(backends=[Backend(service=name, weight=w) for name, w in backends])


LISTENERS = (
    ListenerSpec(
        name="public",
        address="0.0.0.0",
        port=8080,
        node_group=EDGE,
        http2=True,
        trusted_proxy_hops=1,
    ),
    ListenerSpec(
        name="backoffice", address="127.0.0.1", port=9090, node_group=BACKOFFICE, http2=False
    ),
)

SERVICES = (
    ServiceSpec(
        name="users",
        endpoints=[
            Endpoint(host="10.1.0.2", port=8080, weight=3),
            Endpoint(host="10.1.0.1", port=8080),
            Endpoint(host="10.1.1.1", port=8080, priority=1),
        ],
        load_balancing="least_request",
        timeouts=Timeouts(connect_seconds=0.25, request_seconds=10),
    ),
    ServiceSpec(name="inventory", endpoints=[Endpoint(host="10.2.0.1", port=8081)]),
    ServiceSpec(name="inventory-canary", endpoints=[Endpoint(host="10.2.0.9", port=8081)]),
    ServiceSpec(
        name="chat",
        protocol="grpc",
        endpoints=[Endpoint(host="10.3.0.1", port=50051), Endpoint(host="10.3.0.2", port=50051)],
        load_balancing="ring_hash",
        # Chat streams are long-lived: no route timeout.
        timeouts=Timeouts(connect_seconds=1, request_seconds=0),
    ),
    ServiceSpec(
        name="content",
        discovery="dns",
        endpoints=[Endpoint(host="content.game.svc.cluster.local", port=80)],
        load_balancing="maglev",
    ),
    # Declared but used by no route: no group receives it.
    ServiceSpec(name="analytics", endpoints=[Endpoint(host="10.9.0.1", port=80)]),
)

API = "api.chaos.example"
ROUTES = (
    RouteSpec(
        name="users-me",
        listener="public",
        hosts=[API],
        order=10,
        match=RouteMatch(path=PathMatch(type="exact", value="/v1/users/me"), methods=["GET"]),
        action=_forward(("users", 1)),
    ),
    RouteSpec(
        name="users",
        listener="public",
        hosts=[API],
        order=100,
        match=RouteMatch(
            path=PathMatch(type="prefix", value="/v1/users"), methods=["POST", "GET", "PATCH"]
        ),
        action=_forward(("users", 1)),
    ),
    RouteSpec(
        name="inventory-beta",
        listener="public",
        hosts=["*.chaos.example"],
        order=50,
        match=RouteMatch(
            path=PathMatch(type="prefix", value="/v1/inventory"),
            headers=[HeaderMatch(name="X-Beta-Tester", type="present")],
        ),
        action=_forward(("inventory-canary", 1)),
    ),
    RouteSpec(
        name="inventory",
        listener="public",
        hosts=["*.chaos.example"],
        order=100,
        match=RouteMatch(path=PathMatch(type="prefix", value="/v1/inventory")),
        action=_forward(("inventory", 95), ("inventory-canary", 5)),
        timeout_seconds=4,
    ),
    RouteSpec(
        name="items",
        listener="public",
        hosts=[API, "m.chaos.example"],
        order=200,
        match=RouteMatch(
            path=PathMatch(type="regex", value=r"^/v1/items/[0-9]+$"),
            query_params=[QueryParamMatch(name="lang", type="regex", value="^(en|fr)$")],
        ),
        action=_forward(("inventory", 1)),
    ),
    RouteSpec(
        name="chat",
        listener="public",
        order=300,
        match=RouteMatch(
            path=PathMatch(type="prefix", value="/chaos.chat.v1.Chat/"),
            headers=[
                HeaderMatch(name="content-type", type="regex", value="^application/grpc.*"),
            ],
        ),
        action=_forward(("chat", 1)),
    ),
    RouteSpec(
        name="content",
        listener="public",
        hosts=["cdn.chaos.example"],
        order=400,
        match=RouteMatch(
            path=PathMatch(type="prefix", value="/static/"),
            headers=[HeaderMatch(name="x-debug", value="1", invert=True)],
            query_params=[QueryParamMatch(name="v", type="present")],
        ),
        action=_forward(("content", 1)),
        timeout_seconds=2.5,
    ),
    RouteSpec(
        name="admin-users",
        listener="backoffice",
        hosts=["backoffice.*"],
        order=10,
        match=RouteMatch(path=PathMatch(value="/admin/users"), methods=["GET", "DELETE"]),
        action=_forward(("users", 1)),
    ),
    RouteSpec(
        name="admin-catch-all",
        listener="backoffice",
        order=5000,
        action=_forward(("content", 1)),
    ),
)


POLICIES = (
    RateLimitPolicySpec(
        name="player-minute",
        applies_to=RoutesTarget(routes=["users", "items"]),
        counted_by=["player"],
        limit=Limit(requests=600, window_seconds=60),
        burst=20,
        tiers={"premium": TierLimit(requests=1200, burst=40)},
    ),
    RateLimitPolicySpec(
        name="api-clients",
        applies_to=HostsTarget(hosts=[API, "play.chaos.example"]),
        counted_by=["ip", HeaderKey(header="X-Game-Client")],
        limit=Limit(requests=100, window_seconds=1),
        shadow=True,
    ),
    RateLimitPolicySpec(
        name="route-hour",
        applies_to=GatewayTarget(),
        counted_by=["route", "api_key"],
        limit=Limit(requests=10_000, window_seconds=3600),
        on_redis_error=OnRedisError(mode="local", local_requests=50),
    ),
    RateLimitPolicySpec(
        name="day-cap",
        applies_to=GatewayTarget(),
        counted_by=["player"],
        limit=Limit(requests=100_000, window_seconds=86_400),
        on_redis_error=OnRedisError(mode="deny"),
    ),
    RateLimitPolicySpec(
        name="flood-guard",
        applies_to=GatewayTarget(),
        counted_by=["ip"],
        limit=Limit(requests=50, window_seconds=1),
        burst=50,
        enforcement="local",
    ),
    RateLimitPolicySpec(
        name="chat-local",
        applies_to=RoutesTarget(routes=["chat"]),
        limit=Limit(requests=1000, window_seconds=1),
        enforcement="local",
    ),
)

# Two processes of the rate-limit service.
RATELIMIT = RateLimitService((("10.8.0.1", 8081), ("10.8.0.2", 8081)), 0.05, False)


def golden_state() -> GatewayState:
    return GatewayState(
        listeners=LISTENERS,
        services=SERVICES,
        routes=ROUTES,
        rate_limit_policies=POLICIES,
        revision=7,
    )
