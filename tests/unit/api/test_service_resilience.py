"""Service resilience options: what Envoy would reject is refused first with a clear 422, and
the live status endpoint copes with an Envoy that does not answer."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.integration.harness import free_port
from tests.unit.api.conftest import (
    RecordingPublisher,
    created,
    error_of,
    listener,
    route,
    service,
    store_state,
)

PEM_BODY = "MIIBQTCB6KADAgECAgEBMAoGCCqGSM49BAMCMB8xHTAbBgNVBAMMFENoYW9zIGdv"


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"panic_threshold_percent": 101}, "panic_threshold_percent", "less than or equal"),
        (
            {"health_check": {"healthy_threshold": 0}},
            "health_check.healthy_threshold",
            "greater than or equal to 1",
        ),
        ({"health_check": {"type": "tcp", "path": "/x"}}, "health_check", "http health"),
        ({"health_check": {"path": "/health\x7f"}}, "health_check.path", "match pattern"),
        ({"health_check": {"expected_statuses": [99]}}, "health_check", "not an HTTP status"),
        ({"health_check": {"type": "grpc"}}, "", "needs protocol http2 or grpc"),
        ({"outlier_detection": {"max_ejection_percent": 150}}, "outlier_detection", "100"),
        (
            {"circuit_breakers": {"max_requests": 0}},
            "circuit_breakers.max_requests",
            "greater than or equal to 1",
        ),
        (
            {"load_balancing": "ring_hash", "ring_hash": {"min_ring_size": 9, "max_ring_size": 8}},
            "ring_hash",
            "must not exceed",
        ),
        ({"load_balancing": "maglev", "maglev": {"table_size": 65536}}, "maglev", "not a prime"),
        (
            {"hash_on": [{"type": "header", "name": "x-player-id"}]},
            "",
            "needs load_balancing ring_hash or maglev",
        ),
        (
            {"load_balancing": "maglev", "hash_on": [{"type": "cookie", "name": "a b"}]},
            "hash_on[0].cookie.name",
            "pattern",
        ),
        ({"retries": {"on": ["5xx"], "retriable_status_codes": [409]}}, "retries", "together"),
        ({"retries": {"on": ["sometimes"]}}, "retries.on[0]", "'5xx'"),
        (
            {"retries": {"backoff_base_seconds": 1, "backoff_max_seconds": 0.5}},
            "retries",
            "must not be below",
        ),
        ({"retries": {"max_attempts": 0}}, "retries.max_attempts", "greater than or equal to 1"),
        (
            {"tls": {"ca_pem": f"-----BEGIN CERTIFICATE-----\n{PEM_BODY}\n"}},
            "tls.ca_pem",
            "not a PEM certificate bundle",
        ),
        (
            {"tls": {"ca_pem": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"}},
            "tls.ca_pem",
            "private key",
        ),
        ({"tls": {"sni": "not a host", "ca_pem": "x"}}, "tls.sni", "pattern"),
    ],
)
def test_envoy_would_reject_it_so_the_api_does(
    client: TestClient,
    database: Database,
    publisher: RecordingPublisher,
    fields: dict[str, Any],
    field: str,
    says: str,
) -> None:
    before, calls = store_state(database), publisher.calls

    response = client.post("/api/v1/services", json=service("shard", **fields))

    assert response.status_code == 422, response.text
    details = error_of(response)["details"]
    assert any(d.get("field", "").startswith(field) and says in d["message"] for d in details), (
        details
    )
    assert store_state(database) == before
    assert publisher.calls == calls


def test_a_route_overrides_retries_and_idle_timeout(client: TestClient) -> None:
    created(client, "listeners", listener())
    created(client, "services", service(retries={"on": ["5xx"]}))
    body = created(
        client,
        "routes",
        route(idle_timeout_seconds=30, retries={"max_attempts": 1, "on": ["reset"]}),
    )
    assert body["retries"]["max_attempts"] == 1
    assert body["idle_timeout_seconds"] == 30
    bad = client.post("/api/v1/routes", json=route("other", retries={"max_attempts": 11}))
    assert bad.status_code == 422
    assert error_of(bad)["details"][0]["field"] == "retries.max_attempts"


def test_status_of_an_unknown_service_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/services/nope/status")
    assert response.status_code == 404
    assert error_of(response)["message"] == "no service named 'nope'"


def test_status_lists_an_envoy_that_does_not_answer(
    client: TestClient, nodes: NodeRegistry
) -> None:
    created(client, "listeners", listener(node_group="edge"))
    created(client, "services", service())
    created(client, "services", service("unused"))
    created(client, "routes", route())
    silent = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    nodes.connected("edge-1", "edge", "ipv4:127.0.0.1:1", "envoy/1.40.0", silent)
    nodes.connected("other-1", "other", "ipv4:127.0.0.1:2", "envoy/1.40.0", silent)

    body = client.get("/api/v1/services/inventory/status").json()

    assert body["node_groups"] == ["edge"]
    (envoy,) = body["envoys"]
    assert (envoy["node_id"], envoy["reachable"], envoy["hosts"]) == ("edge-1", False, [])
    assert "ConnectError" in envoy["error"]
    unused = client.get("/api/v1/services/unused/status").json()
    assert unused == {"service": "unused", "node_groups": [], "envoys": []}
