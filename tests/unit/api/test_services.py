"""/api/v1/services: CRUD, and no deleting a service routes still use."""

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


def test_create_get_replace_delete(client: TestClient, publisher: RecordingPublisher) -> None:
    body = created(client, "services", service("chat", "10.0.0.1", "10.0.0.2"))
    assert [e["host"] for e in body["endpoints"]] == ["10.0.0.1", "10.0.0.2"]
    assert body["load_balancing"] == "round_robin"

    replaced = client.put(
        "/api/v1/services/chat",
        json=service("chat", "10.0.0.3", load_balancing="least_request"),
        headers={"If-Match": body["metadata"]["etag"]},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["load_balancing"] == "least_request"
    assert replaced.headers["etag"] != body["metadata"]["etag"]

    fetched = client.get("/api/v1/services/chat").json()
    assert [e["host"] for e in fetched["endpoints"]] == ["10.0.0.3"]

    assert client.delete("/api/v1/services/chat").status_code == 204
    assert client.get("/api/v1/services/chat").status_code == 404
    assert publisher.calls == 3


def test_deleting_a_service_in_use_is_409_naming_the_routes(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "services", service("chat"))
    created(client, "routes", route("canary", "inventory", "chat"))
    created(client, "routes", route("other", "inventory", prefix="/other"))
    before, calls = store_state(database), publisher.calls

    response = client.delete("/api/v1/services/chat")

    assert response.status_code == 409
    error = error_of(response)
    assert "'canary'" in error["message"]
    assert "'other'" not in error["message"]
    assert error["details"][0]["resource"] == "/api/v1/routes/canary"
    assert store_state(database) == before
    assert publisher.calls == calls


def test_a_service_is_free_to_go_once_its_routes_stop_using_it(client: TestClient) -> None:
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "services", service("chat"))
    etag = created(client, "routes", route("items", "chat"))["metadata"]["etag"]

    moved = client.put(
        "/api/v1/routes/items", json=route("items", "inventory"), headers={"If-Match": etag}
    )
    assert moved.status_code == 200, moved.text

    assert client.delete("/api/v1/services/chat").status_code == 204
    assert client.delete("/api/v1/services/inventory").status_code == 409


def test_a_taken_name_is_409(client: TestClient) -> None:
    created(client, "services", service())

    response = client.post("/api/v1/services", json=service())

    assert response.status_code == 409
    assert error_of(response)["details"][0]["field"] == "name"


def test_list_is_paginated(client: TestClient) -> None:
    for name in ["c", "a", "b"]:
        created(client, "services", service(name))

    page = client.get("/api/v1/services", params={"limit": 2, "offset": 1}).json()

    assert [item["name"] for item in page["items"]] == ["b", "c"]
    assert (page["total"], page["next_offset"]) == (3, None)
