"""A fixed, realistic gateway state: the input of the translator's golden files.

Two listeners in two node groups; services with static endpoints in two priorities, a DNS
service and a gRPC one; routes with exact, prefix and regex paths, methods, header and query
matches, a weighted canary split, and hosts with leading and trailing wildcards. Services use
every balancing policy and hash key, each kind of health check, outlier detection, circuit
breakers with a retry budget, retries, idle timeouts and upstream TLS; one route overrides
its service's retries. Newer routes use every match kind and action option: templates, absent
and inverted headers, gRPC service/method, header and cookie canaries, a runtime rollout,
mirroring, rewrites, redirects, direct responses, WebSocket options.
The public listener terminates TLS with a certificate over SDS and uses every edge
policy; the routes override them.
Rate-limit policies of every kind of attachment and counting, global and local, with a
rate-limit service. Two JWT providers (inline keys; remote keys found by OIDC discovery,
as fetched) and three roles protect three routes with roles and permissions.
"""

import json
from pathlib import Path

from pydantic import SecretStr

from controlplane.model import (
    AuthenticatedAuth,
    Backend,
    Canary,
    CanaryCookie,
    CanaryHeader,
    CertificateSpec,
    CircuitBreakers,
    ClaimNames,
    CookieHash,
    DirectResponseAction,
    Endpoint,
    ForwardAction,
    GatewayState,
    GatewayTarget,
    GrpcMatch,
    HeaderHash,
    HeaderKey,
    HeaderMatch,
    HealthCheck,
    HostRewrite,
    HostsTarget,
    InlineJwks,
    JwtCredential,
    JwtProviderSpec,
    Limit,
    ListenerSpec,
    ListenerTls,
    Maglev,
    Mirror,
    OnRedisError,
    OutlierDetection,
    PathMatch,
    PathRewrite,
    QueryParamMatch,
    RateLimitPolicySpec,
    RedirectAction,
    RegexRewrite,
    RemoteJwks,
    Retries,
    RetryBudget,
    RingHash,
    RoleSpec,
    Rollout,
    RouteMatch,
    RouteSpec,
    RoutesTarget,
    ServiceCredential,
    ServiceSpec,
    SourceIpHash,
    SuccessRate,
    TierLimit,
    Timeouts,
    TokenSources,
    UpstreamTls,
)
from controlplane.model.auth_resource_rules import OwnerRule
from controlplane.model.edge import (
    ClientIps,
    Compression,
    CorsPolicy,
    CsrfPolicy,
    PathNormalization,
    RequestLimits,
    SecurityHeaders,
    SecurityHeadersOverride,
)
from controlplane.model.transforms import (
    HeaderChanges,
    HeaderValue,
    QueryChanges,
    QueryParam,
    Transform,
)
from controlplane.translator import ExtAuthzService, RateLimitService

CA_PEM = (Path(__file__).parent / "golden_ca.pem").read_text()
JWKS = json.loads((Path(__file__).parent / "golden_jwks.json").read_text())
EDGE = "edge"
BACKOFFICE = "backoffice"


def _forward(*backends: tuple[str, int]) -> ForwardAction:
    return ForwardAction(backends=[Backend(service=name, weight=w) for name, w in backends])


_PEM = (Path(__file__).parent / "golden_certificate.pem").read_text()
_KEY_AT = _PEM.index("-----BEGIN PRIVATE KEY-----")
CERTIFICATES = (
    CertificateSpec(
        name="api-cert", certificate_chain=_PEM[:_KEY_AT], private_key=SecretStr(_PEM[_KEY_AT:])
    ),
    # Declared but presented by no listener: no group receives its key.
    CertificateSpec(
        name="unused-cert", certificate_chain=_PEM[:_KEY_AT], private_key=SecretStr(_PEM[_KEY_AT:])
    ),
)

LISTENERS = (
    ListenerSpec(
        name="public",
        address="0.0.0.0",
        port=8080,
        node_group=EDGE,
        http2=True,
        trusted_proxy_hops=1,
        stream_idle_timeout_seconds=120,
        request_timeout_seconds=30.5,
        tls=ListenerTls(certificates=["api-cert"]),
        grpc_web=True,
        compression=Compression(content_types=["application/json"], min_size_bytes=512),
        transform=Transform(
            request_headers=HeaderChanges(
                set=[
                    HeaderValue(
                        name="x-client-ip", value="%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"
                    )
                ]
            ),
            response_headers=HeaderChanges(remove=["server"]),
        ),
        cors=CorsPolicy(allow_origins=["https://play.chaos.example"], allow_methods=["GET"]),
        security_headers=SecurityHeaders(),
    ),
    ListenerSpec(
        name="backoffice",
        address="127.0.0.1",
        port=9090,
        node_group=BACKOFFICE,
        http2=False,
        limits=RequestLimits(max_header_count=50, max_header_kb=16),
        paths=PathNormalization(merge_slashes=False, escaped_slashes="unescape_and_redirect"),
        compression=Compression(algorithms=["gzip"], routes="opt_in"),
        client_ips=ClientIps(allow=["10.0.0.0/8", "2001:db8::/32"], deny=["10.66.0.0/16"]),
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
        transform=Transform(
            request_headers=HeaderChanges(
                add=[HeaderValue(name="x-trace", value="%REQ(x-request-id)%")],
                remove=["cookie2"],
            ),
            response_headers=HeaderChanges(
                set=[HeaderValue(name="cache-control", value="no-store")]
            ),
            query=QueryChanges(
                remove=["debug"],
                set=[QueryParam(name="v", value="2")],
                add=[QueryParam(name="tag", value="me")],
            ),
        ),
        cors=CorsPolicy(
            allow_origins=["https://play.chaos.example", "https://m.chaos.example"],
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
            expose_headers=["x-request-id"],
            max_age_seconds=600,
            allow_credentials=True,
        ),
        csrf=CsrfPolicy(additional_origins=["https://play.chaos.example"]),
        security_headers=SecurityHeadersOverride(x_frame_options="SAMEORIGIN"),
        compression=False,
        client_ips=ClientIps(deny=["192.0.2.0/24"]),
        max_body_bytes=65536,
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
        name="player-inventory",
        listener="public",
        hosts=[API],
        order=20,
        match=RouteMatch(
            path=PathMatch(type="template", value="/v1/players/{player_id}/inventory/**"),
            headers=[
                HeaderMatch(name="x-legacy-client", type="absent"),
                HeaderMatch(name="x-region", type="prefix", value="eu-", invert=True),
                HeaderMatch(name="user-agent", type="contains", value="ChaosClient"),
            ],
            query_params=[QueryParamMatch(name="view", type="suffix", value="-full")],
        ),
        action=ForwardAction(
            backends=[Backend(service="inventory")],
            canary=Canary(
                service="inventory-canary",
                cookie=CanaryCookie(name="chaos_canary", value="inventory-v2"),
            ),
            host_rewrite=HostRewrite(auto=True),
        ),
    ),
    RouteSpec(
        name="world-move",
        listener="public",
        order=30,
        match=RouteMatch(grpc=GrpcMatch(service="chaos.world.v1.World", method="Move")),
        action=ForwardAction(backends=[Backend(service="chat")]),
        idle_timeout_seconds=3600,
    ),
    RouteSpec(
        name="shop",
        listener="public",
        hosts=[API],
        order=500,
        match=RouteMatch(path=PathMatch(value="/v1/shop")),
        action=ForwardAction(
            backends=[Backend(service="inventory")],
            canary=Canary(
                service="inventory-canary", header=CanaryHeader(name="X-Tester", value="v2")
            ),
            rollout=Rollout(service="users", percent=25),
            mirror=Mirror(service="content", percent=10),
            rewrite=PathRewrite(prefix="/shop"),
            host_rewrite=HostRewrite(literal="shop.internal"),
            websocket=False,
        ),
    ),
    RouteSpec(
        name="items-legacy",
        listener="public",
        hosts=[API],
        order=510,
        match=RouteMatch(path=PathMatch(type="regex", value="^/legacy/items/([0-9]+)$")),
        action=ForwardAction(
            backends=[Backend(service="inventory")],
            rewrite=PathRewrite(
                regex=RegexRewrite(pattern="^/legacy/items/([0-9]+)$", substitution=r"/items/\1")
            ),
        ),
    ),
    RouteSpec(
        name="http-to-https",
        listener="public",
        hosts=["m.chaos.example"],
        order=600,
        match=RouteMatch(path=PathMatch(value="/account")),
        action=RedirectAction(type="redirect", https=True, response_code=308),
    ),
    RouteSpec(
        name="old-shop",
        listener="public",
        hosts=[API],
        order=610,
        match=RouteMatch(path=PathMatch(value="/old-shop/")),
        action=RedirectAction(
            type="redirect", host="shop.chaos.example", prefix_rewrite="/", strip_query=True
        ),
    ),
    RouteSpec(
        name="maintenance",
        listener="public",
        hosts=[API],
        order=700,
        match=RouteMatch(path=PathMatch(value="/v1/guilds")),
        action=DirectResponseAction(
            type="direct_response",
            status=503,
            body="<h1>Guilds are down for maintenance</h1>",
            content_type="text/html; charset=utf-8",
        ),
    ),
    RouteSpec(
        name="admin-users",
        listener="backoffice",
        hosts=["backoffice.*"],
        order=10,
        match=RouteMatch(path=PathMatch(value="/admin/users"), methods=["GET", "DELETE"]),
        action=_forward(("users", 1)),
        compression=True,
        security_headers=SecurityHeadersOverride(enabled=False),
        auth=AuthenticatedAuth(
            credentials=[JwtCredential(providers=["players"])],
            roles_any_of=["gm"],
            permissions_all_of=["players.moderate", "payments.refund"],
        ),
    ),
    RouteSpec(
        name="partner-orders",
        listener="backoffice",
        order=40,
        match=RouteMatch(path=PathMatch(value="/partners/orders")),
        action=_forward(("users", 1)),
        auth=AuthenticatedAuth(
            credentials=[ServiceCredential(kind="api_key"), JwtCredential(providers=["partners"])],
            roles_any_of=["admin"],
            permissions_any_of=["inventory.read"],
        ),
    ),
    RouteSpec(
        name="owned-inventory",
        listener="backoffice",
        order=30,
        match=RouteMatch(path=PathMatch(type="template", value="/players/{player_id}/inventory")),
        action=_forward(("inventory", 1)),
        auth=AuthenticatedAuth(
            credentials=[JwtCredential(providers=["players"])],
            permissions_any_of=["inventory.read"],
            owner=OwnerRule(path_parameter="player_id", unless_roles=["gm"]),
        ),
    ),
    RouteSpec(
        name="admin-catch-all",
        listener="backoffice",
        order=5000,
        action=_forward(("content", 1)),
    ),
    RouteSpec(
        name="admin-robots",
        listener="backoffice",
        order=20,
        match=RouteMatch(path=PathMatch(type="exact", value="/robots.txt")),
        action=DirectResponseAction(type="direct_response", status=204),
    ),
    RouteSpec(
        name="admin-moved",
        listener="backoffice",
        order=30,
        match=RouteMatch(path=PathMatch(type="prefix", value="/old-admin")),
        action=RedirectAction(
            type="redirect",
            host="admin.chaos.example:8443",
            port=8443,
            path="/admin",
            response_code=302,
        ),
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
# Two processes of the auth service.
EXTAUTHZ = ExtAuthzService((("10.8.0.3", 8091), ("10.8.0.3", 8092)), 0.2)


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
        certificates=CERTIFICATES,
        rate_limit_policies=POLICIES,
        jwt_providers=JWT_PROVIDERS,
        roles=ROLES,
        # What the control plane fetched for the remote provider.
        fetched_jwks={"partners": json.dumps(JWKS)},
        revision=7,
    )


def plain_state() -> GatewayState:
    """Nothing but a listener, a service and a route: no policy at all (the routed benchmark)."""
    return GatewayState(
        listeners=(ListenerSpec(name="plain", port=8080, node_group=EDGE),),
        services=(ServiceSpec(name="items", endpoints=[Endpoint(host="10.0.0.1", port=80)]),),
        routes=(RouteSpec(name="items", listener="plain", action=_forward(("items", 1))),),
    )
