"""Match kinds through the real Envoy: templates, absent and inverted headers, query
parameters, gRPC service/method, wildcard hosts. One gateway for the whole module."""

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from tests.integration.harness import Gateway, upstream_of, wait_for_response, wait_until
from tests.integration.shared_gateway import SharedGateway, shared_gateway

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedGateway]:
    with shared_gateway(tmp_path_factory.mktemp("routing-match")) as running:
        for name in ("matched", "fallback"):
            running.service(name)
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def _route(gateway: Gateway, name: str, order: int, match: Mapping[str, Any], **extra: Any) -> None:
    service = extra.pop("service", "matched")
    gateway.admin.create(
        "routes",
        {
            "name": name,
            "listener": gateway.listener,
            "order": order,
            "match": match,
            "action": {"type": "forward", "backends": [{"service": service}]},
            **extra,
        },
    )


def _answered_by(
    gateway: Gateway, client: httpx.Client, path: str, **kwargs: Any
) -> tuple[int, str | None]:
    response = client.request(kwargs.pop("method", "GET"), gateway.url(path), **kwargs)
    return response.status_code, upstream_of(response)


def test_a_template_matches_its_segments_only(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    _route(gateway, "tpl", 10, {"path": {"type": "template", "value": "/players/{id}/inventory"}})
    wait_for_response(client, gateway.url("/players/42/inventory"), upstream="matched")

    assert _answered_by(gateway, client, "/players/7/inventory?page=2") == (200, "matched")
    for path in ("/players/42/x", "/players/42/inventory/extra", "/players/inventory", "/players"):
        assert _answered_by(gateway, client, path) == (404, None), path


def test_absent_and_inverted_headers(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    headers = [
        {"name": "x-legacy", "type": "absent"},
        {"name": "x-region", "value": "eu", "invert": True},
    ]
    # The route waited for is the one created last: pushes keep their order, so the other
    # is in Envoy too once it answers.
    _route(gateway, "legacy", 21, {"path": {"value": "/hdr"}}, service="fallback")
    _route(gateway, "modern", 20, {"path": {"value": "/hdr"}, "headers": headers})
    wait_for_response(client, gateway.url("/hdr"), upstream="matched")

    cases = {
        (): "matched",
        (("x-region", "us"),): "matched",
        (("x-legacy", "1"),): "fallback",
        (("x-region", "eu"),): "fallback",
        (("x-legacy", ""), ("x-region", "us")): "fallback",  # present, even if empty
    }
    for sent, expected in cases.items():
        assert _answered_by(gateway, client, "/hdr", headers=list(sent)) == (200, expected), sent


def test_query_parameters_and_header_prefix(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    match = {
        "path": {"value": "/qry"},
        "query_params": [{"name": "v", "type": "prefix", "value": "2"}],
        "headers": [{"name": "user-agent", "type": "contains", "value": "Chaos"}],
    }
    _route(gateway, "v2-clients", 30, match)
    _route(gateway, "other-clients", 31, {"path": {"value": "/qry"}}, service="fallback")
    chaos = {"user-agent": "ChaosClient/2.1"}
    wait_for_response(client, gateway.url("/qry"), upstream="fallback")

    assert _answered_by(gateway, client, "/qry?v=2.4", headers=chaos) == (200, "matched")
    assert _answered_by(gateway, client, "/qry?v=1.9", headers=chaos) == (200, "fallback")
    assert _answered_by(gateway, client, "/qry?v=2.4") == (200, "fallback")
    assert _answered_by(gateway, client, "/qry", headers=chaos) == (200, "fallback")


def test_a_grpc_method_route_takes_only_grpc_calls_of_that_method(
    shared: SharedGateway, client: httpx.Client
) -> None:
    gateway = shared.gateway
    _route(
        gateway, "world-move", 40, {"grpc": {"service": "chaos.world.v1.World", "method": "Move"}}
    )
    _route(
        gateway, "world-any", 41, {"path": {"value": "/chaos.world.v1.World/"}}, service="fallback"
    )
    stored, _ = gateway.admin.get("routes", "world-move")
    # The gRPC path is shown as the route's effective path.
    assert stored["match"]["path"] == {"type": "exact", "value": "/chaos.world.v1.World/Move"}
    grpc = {"content-type": "application/grpc", "te": "trailers"}
    move = gateway.url("/chaos.world.v1.World/Move")
    wait_for_response(client, move, upstream="fallback")

    status, upstream = _answered_by(
        gateway, client, "/chaos.world.v1.World/Move", method="POST", headers=grpc, content=b""
    )
    assert upstream == "matched", status
    for path, headers in [
        ("/chaos.world.v1.World/Move", {"content-type": "application/json"}),
        ("/chaos.world.v1.World/Look", grpc),
    ]:
        _, upstream = _answered_by(gateway, client, path, method="POST", headers=headers)
        assert upstream == "fallback", (path, headers)


def test_wildcard_hosts(shared: SharedGateway, client: httpx.Client) -> None:
    gateway = shared.gateway
    _route(gateway, "chaos-hosts", 50, {"path": {"value": "/hosts"}}, hosts=["*.chaos.test"])
    _eventually(gateway, client, "/hosts", (200, "matched"), headers={"host": "api.chaos.test"})

    assert _answered_by(gateway, client, "/hosts", headers={"host": "eu.api.chaos.test"}) == (
        200,
        "matched",
    )
    assert _answered_by(gateway, client, "/hosts", headers={"host": "chaos.test"}) == (404, None)
    assert _answered_by(gateway, client, "/hosts") == (404, None)


def _eventually(
    gateway: Gateway,
    client: httpx.Client,
    path: str,
    expected: tuple[int, str | None],
    **kwargs: Any,
) -> None:
    """Wait for a new route to reach Envoy, seen by what a request gets."""
    wait_until(
        lambda: _answered_by(gateway, client, path, **kwargs) == expected,
        timeout=5.0,
        description=f"{path} with {kwargs} to answer {expected}",
        alive=gateway.alive(),
    )
