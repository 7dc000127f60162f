"""Edge policies through the real Envoy: header and query changes, security headers, CORS,
CSRF, compression, limits, path normalization and client IP lists.

One gateway for the module; its listener sets the defaults, each route overrides some.
"""

import gzip
import http.client
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.edge_gateway import edge_route, shared_gateway
from tests.integration.harness import LOCALHOST, Gateway, wait_for_response

pytestmark = pytest.mark.integration

PLAY = "https://play.chaos.example"
LISTENER = {
    "compression": {"content_types": ["application/json"], "min_size_bytes": 1024},
    "security_headers": {},
    "transform": {
        "request_headers": {
            "set": [{"name": "x-client-ip", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}]
        }
    },
    "limits": {"max_header_count": 40, "max_header_kb": 8},
}
ROUTES = [
    edge_route(
        "headers",
        "/headers",
        transform={
            "request_headers": {
                "set": [{"name": "x-team", "value": "chaos"}],
                "add": [{"name": "x-trace", "value": "id-%REQ(x-request-id)%"}],
                "remove": ["x-drop"],
            },
            "response_headers": {
                "set": [{"name": "x-served-by", "value": "gateway"}],
                "remove": ["x-upstream"],
            },
            "query": {
                "set": [{"name": "v", "value": "2"}],
                "add": [{"name": "tag", "value": "me"}],
                "remove": ["debug"],
            },
        },
    ),
    edge_route("framed", "/framed", security_headers={"x_frame_options": "SAMEORIGIN"}),
    edge_route("bare", "/bare", security_headers={"enabled": False}, compression=False),
    edge_route("cors", "/cors", cors={"allow_origins": [PLAY], "allow_methods": ["PUT"]}),
    edge_route("csrf", "/csrf", csrf={}),
    edge_route("upload", "/upload", max_body_bytes=100),
    edge_route("office", "/office", client_ips={"allow": ["10.0.0.0/8"]}),
    edge_route("local", "/local", client_ips={"allow": ["127.0.0.0/8"], "deny": ["10.0.0.0/8"]}),
    edge_route("echo", "/", order=5000),
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with shared_gateway(tmp_path_factory.mktemp("edge"), LISTENER) as gateway:
        for route in ROUTES:
            gateway.admin.create("routes", route)
        with httpx.Client() as client:
            # The catch-all is the last route declared: once it answers, all are there.
            wait_for_response(client, gateway.url("/local"), alive=gateway.alive())
        yield gateway


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # No automatic decompression: the tests look at what Envoy sent.
    with httpx.Client(timeout=5.0, headers={"accept-encoding": "identity"}) as http:
        yield http


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_header_and_query_changes_reach_the_upstream_and_the_client(
    gateway: Gateway, client: httpx.Client
) -> None:
    response = client.get(
        gateway.url("/headers?v=1&debug=true&keep=yes"),
        headers={"x-drop": "secret", "x-team": "spoofed", "x-trace": "caller"},
    )
    seen = echoed(response)
    headers = seen["headers"]
    assert headers["x-team"] == "chaos"
    assert "x-drop" not in headers
    assert headers["x-trace"] == f"caller, id-{headers['x-request-id']}"
    # The listener's rule, with the client address filled in.
    assert headers["x-client-ip"] == LOCALHOST
    assert sorted(seen["query"].split("&")) == ["keep=yes", "tag=me", "v=2"]
    assert response.headers["x-served-by"] == "gateway"
    assert "x-upstream" not in response.headers


def test_security_header_preset_and_route_overrides(gateway: Gateway, client: httpx.Client) -> None:
    default = client.get(gateway.url("/anything"))
    assert default.headers["x-frame-options"] == "DENY"
    assert default.headers["x-content-type-options"] == "nosniff"
    assert default.headers["strict-transport-security"].startswith("max-age=")
    assert "default-src" in default.headers["content-security-policy"]
    assert default.headers["referrer-policy"] == "strict-origin-when-cross-origin"

    assert client.get(gateway.url("/framed")).headers["x-frame-options"] == "SAMEORIGIN"
    bare = client.get(gateway.url("/bare"))
    assert bare.status_code == 200
    assert not {"x-frame-options", "content-security-policy"} & set(bare.headers)


def test_cors_preflight_follows_the_policy(gateway: Gateway, client: httpx.Client) -> None:
    def preflight(origin: str) -> httpx.Response:
        return client.options(
            gateway.url("/cors/items"),
            headers={"origin": origin, "access-control-request-method": "PUT"},
        )

    allowed = preflight(PLAY)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PLAY
    assert "PUT" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers.get("x-upstream") is None  # Envoy answered it

    refused = preflight("https://evil.example")
    assert "access-control-allow-origin" not in refused.headers
    actual = client.put(gateway.url("/cors/items"), headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in actual.headers


def test_csrf_refuses_cross_origin_writes(gateway: Gateway, client: httpx.Client) -> None:
    host = f"{LOCALHOST}:{gateway.port}"
    cross = client.post(gateway.url("/csrf"), headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    same = client.post(gateway.url("/csrf"), headers={"origin": f"http://{host}"})
    assert same.status_code == 200
    # Elsewhere no CSRF policy applies.
    other = client.post(gateway.url("/anything"), headers={"origin": "https://evil.example"})
    assert other.status_code == 200


def _raw_get(port: int, path: str, encoding: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=5)
    try:
        # Padding echoed back makes the body big enough to compress.
        connection.request("GET", path, headers={"accept-encoding": encoding, "x-pad": "a" * 2000})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_large_responses_are_compressed(gateway: Gateway, encoding: str) -> None:
    status, headers, body = _raw_get(gateway.port, "/anything", encoding)
    assert status == 200
    assert headers["content-encoding"] == encoding
    assert len(body) < 1000  # the echo is over 2 kB of mostly 'a'
    if encoding == "gzip":
        assert json.loads(gzip.decompress(body))["headers"]["x-pad"] == "a" * 2000
    elif encoding == "zstd":
        assert body[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame


def test_small_responses_and_opted_out_routes_are_not_compressed(
    gateway: Gateway, client: httpx.Client
) -> None:
    small = client.get(gateway.url("/anything"), headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    assert small.json()["upstream"] == "echo"
    status, headers, body = _raw_get(gateway.port, "/bare", "gzip")
    assert status == 200
    assert "content-encoding" not in headers
    assert json.loads(body)["headers"]["x-pad"] == "a" * 2000


def test_body_and_header_limits(gateway: Gateway, client: httpx.Client) -> None:
    assert client.post(gateway.url("/upload"), content=b"x" * 100).status_code == 200
    assert client.post(gateway.url("/upload"), content=b"x" * 101).status_code == 413
    # Other routes buffer nothing and take larger bodies.
    assert client.post(gateway.url("/anything"), content=b"x" * 5000).status_code == 200

    many = {f"x-h{i}": "1" for i in range(50)}
    assert client.get(gateway.url("/anything"), headers=many).status_code == 431
    large = {"x-large": "a" * 9000}
    assert client.get(gateway.url("/anything"), headers=large).status_code == 431


def _status_and_path(port: int, raw_path: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=5)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        body = response.read()
        path = json.loads(body)["path"] if response.status == 200 else None
        return response.status, path
    finally:
        connection.close()


def test_paths_are_normalized_before_routing(gateway: Gateway) -> None:
    assert _status_and_path(gateway.port, "//a//b") == (200, "/a/b")
    assert _status_and_path(gateway.port, "/a/../headers/x") == (200, "/headers/x")
    assert _status_and_path(gateway.port, "/a/./b/") == (200, "/a/b/")
    status, _ = _status_and_path(gateway.port, "/a%2Fb")
    assert status == 400


def test_client_ip_lists_answer_403(gateway: Gateway, client: httpx.Client) -> None:
    assert client.get(gateway.url("/office")).status_code == 403
    assert client.get(gateway.url("/local")).status_code == 200
    # With no trusted hops, a client cannot claim another address.
    spoofed = client.get(gateway.url("/office"), headers={"x-forwarded-for": "10.1.2.3"})
    assert spoofed.status_code == 403
