"""/api/v1/listeners: CRUD, pagination, ETags and the listener rules."""

from fastapi.testclient import TestClient

from controlplane.store import Database
from tests.unit.api.conftest import (
    RecordingPublisher,
    created,
    error_of,
    listener,
    route,
    service,
    store_state,
)


def test_create_answers_201_with_location_etag_and_the_stored_resource(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    response = client.post("/api/v1/listeners", json=listener(port=9000, http2=False))

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/listeners/public"
    body = response.json()
    assert body["metadata"]["etag"] == response.headers["etag"]
    assert body["metadata"]["version"] == 1
    assert body["metadata"]["created_at"] == body["metadata"]["updated_at"]
    assert {k: v for k, v in body.items() if k != "metadata"} == {
        "name": "public",
        "address": "0.0.0.0",
        "port": 9000,
        "node_group": "default",
        "http2": False,
        # Secure defaults are shown, the optional policies are off.
        "limits": {"max_header_count": 100, "max_header_kb": 60},
        "paths": {"normalize": True, "merge_slashes": True, "escaped_slashes": "reject"},
        "grpc_web": False,
        **dict.fromkeys(
            ("tls", "compression", "transform", "cors", "security_headers", "client_ips")
        ),
        "stream_idle_timeout_seconds": 300.0,
        "request_timeout_seconds": 0.0,
        "trusted_proxy_hops": 0,
    }
    assert publisher.calls == 1


def test_get_returns_what_create_returned(client: TestClient) -> None:
    body = created(client, "listeners", listener())

    response = client.get("/api/v1/listeners/public")

    assert response.status_code == 200
    assert response.json() == body
    assert response.headers["etag"] == body["metadata"]["etag"]


def test_unknown_listener_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/listeners/nowhere")

    assert response.status_code == 404
    assert "nowhere" in error_of(response)["message"]


def test_a_taken_name_is_409(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    created(client, "listeners", listener())
    before = store_state(database)

    response = client.post("/api/v1/listeners", json=listener(port=9999))

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert store_state(database) == before
    assert publisher.calls == 1


def test_a_taken_address_port_and_group_is_409(client: TestClient, database: Database) -> None:
    created(client, "listeners", listener("a", 8080))
    created(client, "listeners", listener("b", 8080, node_group="edge"))
    before = store_state(database)

    response = client.post("/api/v1/listeners", json=listener("d", 8080))

    assert response.status_code == 409
    error = error_of(response)
    assert "'a'" in error["message"]
    assert "0.0.0.0:8080" in error["message"]
    assert store_state(database) == before


def test_a_wildcard_address_overlaps_every_address_of_the_port(client: TestClient) -> None:
    created(client, "listeners", listener("a", 8080, address="127.0.0.1"))
    created(client, "listeners", listener("b", 8080, address="127.0.0.2"))

    wildcard = client.post("/api/v1/listeners", json=listener("c", 8080, address="0.0.0.0"))
    specific = client.post("/api/v1/listeners", json=listener("d", 9090, address="::"))
    under_wildcard = client.post("/api/v1/listeners", json=listener("e", 9090, address="::1"))

    assert wildcard.status_code == 409
    assert "127.0.0.1:8080" in error_of(wildcard)["message"]
    assert specific.status_code == 201
    assert under_wildcard.status_code == 409
    assert "[::]:9090" in error_of(under_wildcard)["message"]
    names = [item["name"] for item in client.get("/api/v1/listeners").json()["items"]]
    assert names == ["a", "b", "d"]


def test_replace_moving_onto_a_taken_binding_is_409(client: TestClient) -> None:
    created(client, "listeners", listener("a", 8080))
    etag = created(client, "listeners", listener("b", 9090))["metadata"]["etag"]

    response = client.put(
        "/api/v1/listeners/b", json=listener("b", 8080), headers={"If-Match": etag}
    )

    assert response.status_code == 409
    assert client.get("/api/v1/listeners/b").json()["port"] == 9090


def test_replace_keeping_its_own_binding_is_fine(client: TestClient) -> None:
    etag = created(client, "listeners", listener())["metadata"]["etag"]

    response = client.put(
        "/api/v1/listeners/public", json=listener(http2=False), headers={"If-Match": etag}
    )

    assert response.status_code == 200, response.text
    assert response.json()["http2"] is False
    assert response.json()["metadata"]["version"] == 2


def test_deleting_a_listener_with_routes_is_409_naming_them(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    created(client, "listeners", listener())
    created(client, "services", service())
    created(client, "routes", route("b-route"))
    created(client, "routes", route("a-route", prefix="/a"))
    before, calls = store_state(database), publisher.calls

    response = client.delete("/api/v1/listeners/public")

    assert response.status_code == 409
    error = error_of(response)
    assert "'a-route', 'b-route'" in error["message"]
    assert [d["resource"] for d in error["details"]] == [
        "/api/v1/routes/a-route",
        "/api/v1/routes/b-route",
    ]
    assert store_state(database) == before
    assert publisher.calls == calls


def test_delete_answers_204_and_the_listener_is_gone(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    created(client, "listeners", listener())

    response = client.delete("/api/v1/listeners/public")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get("/api/v1/listeners/public").status_code == 404
    assert client.delete("/api/v1/listeners/public").status_code == 404
    assert publisher.calls == 2


def test_list_is_paginated_by_name(client: TestClient) -> None:
    for index, name in enumerate(["echo", "alpha", "delta", "charlie", "bravo"]):
        created(client, "listeners", listener(name, 8000 + index))

    first = client.get("/api/v1/listeners", params={"limit": 2}).json()
    last = client.get("/api/v1/listeners", params={"limit": 2, "offset": 4}).json()

    assert [item["name"] for item in first["items"]] == ["alpha", "bravo"]
    assert (first["total"], first["limit"], first["offset"], first["next_offset"]) == (5, 2, 0, 2)
    assert [item["name"] for item in last["items"]] == ["echo"]
    assert last["next_offset"] is None
    everything = client.get("/api/v1/listeners").json()
    assert [item["name"] for item in everything["items"]] == [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
    ]
    assert everything["items"][0]["metadata"]["version"] == 1
