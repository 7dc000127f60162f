"""A fixed, realistic gateway state: the input of the translator's golden files.

Two listeners in two node groups; services with static endpoints in two priorities, a DNS
service and a gRPC one; routes with exact, prefix and regex paths, methods, header and query
matches, a weighted canary split, and hosts with leading and trailing wildcards. Services use
every balancing policy and hash key, each kind of health check, outlier detection, circuit
breakers with a retry budget, retries, idle timeouts and upstream TLS; one route overrides
its service's retries. Two JWT providers (inline keys; remote keys found by OIDC discovery,
as fetched) and three roles protect three routes with roles and permissions.
"""

import json
from pathlib import Path

from controlplane.model import (
    AuthenticatedAuth,
    Backend,
    CircuitBreakers,
    ClaimNames,
    CookieHash,
    Endpoint,
    ForwardAction,
    GatewayState,
    HeaderHash,
    HeaderMatch,
    HealthCheck,
    InlineJwks,
    JwtCredential,
    JwtProviderSpec,
    ListenerSpec,
    Maglev,
    OutlierDetection,
    PathMatch,
    QueryParamMatch,
    RemoteJwks,
    Retries,
    RetryBudget,
    RingHash,
    RoleSpec,
    RouteMatch,
    RouteSpec,
    ServiceSpec,
    SourceIpHash,
    SuccessRate,
    Timeouts,
    TokenSources,
    UpstreamTls,
)

CA_PEM = (Path(__file__).parent / "golden_ca.pem").read_text()
JWKS = json.loads((Path(__file__).parent / "golden_jwks.json").read_text())
EDGE = "edge"
BACKOFFICE = "backoffice"


def _forward(*backends: tuple[str, int]) -> ForwardAction:
    return ForwardAction(backends=[Backend(service=name, weight=w) for name, w in backends])


LISTENERS = (
    ListenerSpec(name="public", address="0.0.0.0", port=8080, node_group=EDGE, http2=True),
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
        panic_threshold_percent=20,
        health_check=HealthCheck(
            path="/ready", expected_statuses=[204, 200], interval_seconds=2, unhealthy_threshold=3
        ),
        outlier_detection=OutlierDetection(
            consecutive_gateway_errors=3,
            success_rate=SuccessRate(minimum_hosts=2, request_volume=50, stdev_factor=1.5),
            base_ejection_seconds=15,
            max_ejection_percent=50,
        ),
        circuit_breakers=CircuitBreakers(max_connections=200, max_requests=500),
        timeouts=Timeouts(connect_seconds=0.25, request_seconds=10, idle_seconds=60),
        retries=Retries(
            max_attempts=3,
            on=["5xx", "reset", "retriable-status-codes"],
            retriable_status_codes=[409],
            per_try_timeout_seconds=2.5,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.5,
        ),
    ),
    ServiceSpec(
        name="inventory",
        endpoints=[Endpoint(host="10.2.0.1", port=8081)],
        load_balancing="random",
        health_check=HealthCheck(type="tcp", interval_seconds=0.5, timeout_seconds=0.25),
        retries=Retries(avoid_previous_hosts=False),
    ),
    ServiceSpec(name="inventory-canary", endpoints=[Endpoint(host="10.2.0.9", port=8081)]),
    ServiceSpec(
        name="chat",
        protocol="grpc",
        endpoints=[Endpoint(host="10.3.0.1", port=50051), Endpoint(host="10.3.0.2", port=50051)],
        load_balancing="ring_hash",
        hash_on=[HeaderHash(name="X-Player-Id"), SourceIpHash()],
        ring_hash=RingHash(min_ring_size=256, max_ring_size=4096),
        health_check=HealthCheck(type="grpc", grpc_service="chaos.chat.v1.Chat"),
        circuit_breakers=CircuitBreakers(
            max_pending_requests=10, retry_budget=RetryBudget(budget_percent=25)
        ),
        # Chat streams are long-lived: no route timeout.
        timeouts=Timeouts(connect_seconds=1, request_seconds=0),
        retries=Retries(on=["unavailable", "cancelled", "connect-failure"]),
        tls=UpstreamTls(sni="chat.chaos.internal", ca_pem=CA_PEM),
    ),
    ServiceSpec(
        name="content",
        discovery="dns",
        endpoints=[Endpoint(host="content.game.svc.cluster.local", port=80)],
        load_balancing="maglev",
        hash_on=[CookieHash(name="shard", ttl_seconds=600, path="/static")],
        maglev=Maglev(table_size=5003),
        outlier_detection=OutlierDetection(),
        tls=UpstreamTls(ca_pem=CA_PEM),
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
        auth=AuthenticatedAuth(
            credentials=[JwtCredential(providers=["players", "partners"])],
            roles_any_of=["player", "gm"],
        ),
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
        auth=AuthenticatedAuth(
            credentials=[JwtCredential(providers=["players"])],
            permissions_any_of=["inventory.read"],
        ),
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
        idle_timeout_seconds=30,
        retries=Retries(max_attempts=4, on=["5xx"], backoff_base_seconds=0.1),
    ),
    RouteSpec(
        name="admin-users",
        listener="backoffice",
        hosts=["backoffice.*"],
        order=10,
        match=RouteMatch(path=PathMatch(value="/admin/users"), methods=["GET", "DELETE"]),
        action=_forward(("users", 1)),
        auth=AuthenticatedAuth(
            credentials=[JwtCredential(providers=["players"])],
            roles_any_of=["gm"],
            permissions_all_of=["players.moderate", "payments.refund"],
        ),
    ),
    RouteSpec(
        name="admin-catch-all",
        listener="backoffice",
        order=5000,
        action=_forward(("content", 1)),
    ),
)


JWT_PROVIDERS = (
    JwtProviderSpec(
        name="players",
        issuer="https://login.chaos.example",
        audiences=["chaos-world"],
        algorithms=["RS256", "ES256"],
        jwks=InlineJwks(document=JWKS),
        claims=ClaimNames(roles="realm_access.roles", tier="tier"),
        token_sources=TokenSources(cookies=["chaos_session"]),
    ),
    JwtProviderSpec(
        name="partners",
        issuer="https://partners.chaos.example",
        audiences=["chaos-partners", "chaos-world"],
        algorithms=["PS256", "RS256"],
        jwks=RemoteJwks(oidc_discovery=True, refresh_seconds=60),
        clock_skew_seconds=10,
        token_sources=TokenSources(authorization_header=False, query_parameter="access_token"),
    ),
)
ROLES = (
    RoleSpec(name="player", permissions=["inventory.read", "chat.send"]),
    RoleSpec(name="gm", permissions=["inventory.read", "players.moderate"]),
    RoleSpec(name="admin", permissions=["players.moderate", "payments.refund"]),
)


def golden_state() -> GatewayState:
    return GatewayState(
        listeners=LISTENERS,
        services=SERVICES,
        routes=ROUTES,
        jwt_providers=JWT_PROVIDERS,
        roles=ROLES,
        # What the control plane fetched for the remote provider.
        fetched_jwks={"partners": json.dumps(JWKS)},
        revision=7,
    )
