"""Route actions through the real Envoy with real upstreams: header and cookie canaries, a
runtime rollout moved by the admin, mirroring, redirects, direct responses and rewrites.
One gateway for the whole module."""

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from tests.integration.harness import ROUTE_TYPE, Gateway, upstream_of, wait_until
from tests.integration.shared_gateway import SharedGateway, shared_gateway

pytestmark = pytest.mark.integration

RUNTIME_TYPE = "type.googleapis.com/envoy.service.runtime.v3.Runtime"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedGateway]:
    with shared_gateway(tmp_path_factory.mktemp("routing-actions")) as running:
        for name in ("v1", "v2", "shadow"):
            running.service(name)
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def _route(gateway: Gateway, name: str, prefix: str, action: Mapping[str, Any]) -> None:
    gateway.admin.create(
        "routes",
        {
            "name": name,
            "listener": gateway.listener,
            "match": {"path": {"type": "prefix", "value": prefix}},
            "action": action,
        },
    )


def _forward(service: str = "v1", **options: Any) -> dict[str, Any]:
    return {"type": "forward", "backends": [{"service": service}], **options}


def _served(gateway: Gateway, client: httpx.Client, path: str, status: int = 200) -> None:
    """Wait until a new route answers `path`."""
    wait_until(
        lambda: client.get(gateway.url(path)).status_code == status,
        timeout=5.0,
        description=f"GET {path} to answer {status}",
        alive=gateway.alive(),
    )


def _upstreams(client: httpx.Client, url: str, count: int, **kwargs: Any) -> Counter[str | None]:
    return Counter(upstream_of(client.get(url, **kwargs)) for _ in range(count))


def test_a_header_canary_takes_testers_and_nobody_else(
    shared: SharedGateway, client: httpx.Client
) -> None:
    gateway = shared.gateway
    canary = {"service": "v2", "header": {"name": "x-tester", "value": "v2"}}
    _route(gateway, "shop", "/shop", _forward(canary=canary))
    _served(gateway, client, "/shop")
    url = gateway.url("/shop/items")

    assert _upstreams(client, url, 200) == {"v1": 200}
    assert _upstreams(client, url, 20, headers={"x-tester": "v2"}) == {"v2": 20}
    assert _upstreams(client, url, 20, headers={"x-tester": "v3"}) == {"v1": 20}


def test_a_cookie_canary(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    canary = {"service": "v2", "cookie": {"name": "chaos_canary", "value": "on"}}
    _route(gateway, "bag", "/bag", _forward(canary=canary))
    _served(gateway, client, "/bag")
    url = gateway.url("/bag")

    for cookie in ("chaos_canary=on", "session=abc; chaos_canary=on", "chaos_canary=on; x=1"):
        assert upstream_of(client.get(url, headers={"cookie": cookie})) == "v2", cookie
    for cookie in ("chaos_canary=off", "not_chaos_canary=on", "chaos_canary=onward"):
        assert upstream_of(client.get(url, headers={"cookie": cookie})) == "v1", cookie
    assert _upstreams(client, url, 50) == {"v1": 50}


def test_a_rollout_moves_over_rtds_without_a_route_change(
    shared: SharedGateway, client: httpx.Client
) -> None:
    gateway = shared.gateway
    admin, envoy = gateway.admin, gateway.envoy
    _route(gateway, "market", "/market", _forward(rollout={"service": "v2", "percent": 0}))
    _served(gateway, client, "/market")
    url = gateway.url("/market")
    assert _upstreams(client, url, 100) == {"v1": 100}
    routes_version = envoy.route_config_versions()["public"]

    def set_share(percent: int) -> None:
        before = admin.node_type(envoy.node_id, RUNTIME_TYPE).get("acked_version")
        response = admin.request("PUT", "/api/v1/routes/market/rollout", json={"percent": percent})
        assert response.status_code == 200, response.text
        assert response.json()["action"]["rollout"] == {"service": "v2", "percent": percent}
        wait_until(
            lambda: admin.node_type(envoy.node_id, RUNTIME_TYPE).get("acked_version") != before,
            timeout=5.0,
            description=f"Envoy to ACK the runtime with the rollout at {percent}%",
            alive=gateway.alive(),
        )

    set_share(50)
    total = 400
    half = _upstreams(client, url, total)
    assert 0.4 <= half["v2"] / total <= 0.6, half

    set_share(100)
    assert _upstreams(client, url, 100) == {"v2": 100}

    set_share(0)
    assert _upstreams(client, url, 100) == {"v1": 100}
    # Only the runtime moved: Envoy holds the same route configuration throughout.
    assert envoy.route_config_versions()["public"] == routes_version
    assert admin.node_type(envoy.node_id, ROUTE_TYPE)["acked_version"] == routes_version


def test_mirroring_reaches_the_shadow_and_the_client_gets_the_primary(
    shared: SharedGateway, client: httpx.Client
) -> None:
    gateway = shared.gateway
    envoy = gateway.envoy
    _route(gateway, "mirrored", "/mirrored", _forward(mirror={"service": "shadow"}))
    _served(gateway, client, "/mirrored")
    answered = "cluster.shadow.upstream_rq_200"
    before = envoy.stat(answered)

    for _ in range(20):
        response = client.get(gateway.url("/mirrored"))
        assert (response.status_code, upstream_of(response)) == (200, "v1")
    # The shadow upstream answered every copy (its answers went nowhere).
    wait_until(
        lambda: envoy.stat(answered) - before >= 20,
        timeout=5.0,
        description="the shadow upstream to answer 20 mirrored requests",
    )


def test_redirects(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    _route(gateway, "secure", "/secure", {"type": "redirect", "https": True})
    _route(gateway, "tls", "/tls", {"type": "redirect", "https": True, "port": 443})
    _route(
        gateway,
        "moved",
        "/moved/",
        {
            "type": "redirect",
            "host": "shop.chaos.test",
            "prefix_rewrite": "/shop/",
            "response_code": 308,
        },
    )
    _route(
        gateway,
        "gone",
        "/gone",
        {"type": "redirect", "path": "/new", "strip_query": True, "response_code": 302},
    )
    _served(gateway, client, "/gone", status=302)
    host = f"127.0.0.1:{gateway.port}"

    cases = {
        # Envoy keeps the Host's port unless the redirect names one.
        "/secure/profile?x=1": (301, f"https://{host}/secure/profile?x=1"),
        "/tls/profile": (301, "https://127.0.0.1:443/tls/profile"),
        "/moved/items?page=2": (308, "http://shop.chaos.test/shop/items?page=2"),
        "/gone/anything?q=1": (302, f"http://{host}/new"),
    }
    for path, (status, location) in cases.items():
        response = client.get(gateway.url(path))
        assert (response.status_code, response.headers.get("location")) == (status, location)
        assert upstream_of(response) is None


def test_a_direct_response_serves_the_maintenance_page(
    shared: SharedGateway, client: httpx.Client
) -> None:
    gateway = shared.gateway
    page = "<h1>The guild hall is closed for maintenance</h1>"
    action = {
        "type": "direct_response",
        "status": 503,
        "body": page,
        "content_type": "text/html; charset=utf-8",
    }
    _route(gateway, "guilds", "/guilds", action)
    _served(gateway, client, "/guilds", status=503)
    requests_before = gateway.envoy.stats(r"^cluster\.v[12]\.upstream_rq_total$")

    response = client.get(gateway.url("/guilds/42"))

    assert response.status_code == 503
    assert response.text == page
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert upstream_of(response) is None
    assert gateway.envoy.stats(r"^cluster\.v[12]\.upstream_rq_total$") == requests_before


def test_rewrites_arrive_at_the_upstream(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    named = shared.upstream("named")
    gateway.admin.create(
        "services",
        {
            "name": "named",
            "discovery": "dns",
            "endpoints": [{"host": "localhost", "port": named.port}],
        },
    )
    _route(
        gateway,
        "api-v1",
        "/api/v1/",
        _forward(rewrite={"prefix": "/v1/"}, host_rewrite={"literal": "inventory.internal"}),
    )
    regex = {"pattern": "^/legacy/items/([0-9]+)$", "substitution": r"/items/\1"}
    _route(gateway, "legacy", "/legacy/", _forward(rewrite={"regex": regex}))
    _route(gateway, "auto-host", "/auto", _forward("named", host_rewrite={"auto": True}))
    _served(gateway, client, "/auto")

    echoed = client.get(gateway.url("/api/v1/bags/3?full=1")).json()
    assert (echoed["path"], echoed["query"]) == ("/v1/bags/3", "full=1")
    assert echoed["headers"]["host"] == "inventory.internal"
    assert echoed["headers"]["x-envoy-original-path"] == "/api/v1/bags/3?full=1"

    echoed = client.get(gateway.url("/legacy/items/77")).json()
    assert echoed["path"] == "/items/77"
    assert echoed["headers"]["host"] == f"127.0.0.1:{gateway.port}"

    echoed = client.get(gateway.url("/auto/x")).json()
    assert (echoed["upstream"], echoed["headers"]["host"]) == ("named", "localhost")
