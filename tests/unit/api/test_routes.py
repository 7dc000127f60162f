"""/api/v1/routes: CRUD, match order, and the references a route holds."""

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


def _base(client: TestClient) -> None:
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "services", service("chat"))


def test_create_and_read_a_weighted_route(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    _base(client)
    body = route("canary", prefix="/inventory")
    body["action"] = {
        "backends": [{"service": "inventory", "weight": 90}, {"service": "chat", "weight": 10}]
    }

    response = client.post("/api/v1/routes", json=body)

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/routes/canary"
    stored = client.get("/api/v1/routes/canary").json()
    assert stored["action"]["backends"] == body["action"]["backends"]
    assert stored["hosts"] == ["*"]
    assert publisher.calls == 4


def test_an_unknown_service_is_422_naming_it(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    _base(client)
    before, calls = store_state(database), publisher.calls

    response = client.post("/api/v1/routes", json=route("items", "inventory", "ghost"))

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_reference"
    assert "ghost" in error["message"]
    assert error["details"] == [
        {
            "field": "action.backends[1].service",
            "location": "body",
            "message": "no service named 'ghost'",
            "type": "unknown_service",
        }
    ]
    assert store_state(database) == before
    assert publisher.calls == calls


def test_an_unknown_listener_is_422_naming_it(client: TestClient, database: Database) -> None:
    _base(client)
    before = store_state(database)

    response = client.post("/api/v1/routes", json=route("items", listener="backstage"))

    assert response.status_code == 422
    error = error_of(response)
    assert "backstage" in error["message"]
    assert error["details"][0]["field"] == "listener"
    assert store_state(database) == before


def test_a_replace_naming_an_unknown_service_changes_nothing(
    client: TestClient, database: Database
) -> None:
    _base(client)
    etag = created(client, "routes", route("items"))["metadata"]["etag"]
    before = store_state(database)

    response = client.put(
        "/api/v1/routes/items", json=route("items", "ghost"), headers={"If-Match": etag}
    )

    assert response.status_code == 422
    assert store_state(database) == before


def test_list_follows_match_order_then_name(client: TestClient) -> None:
    _base(client)
    for name, order in [("zeta", 10), ("beta", 500), ("alpha", 500), ("first", 0)]:
        created(client, "routes", route(name, prefix=f"/{name}", order=order))

    page = client.get("/api/v1/routes").json()

    assert [item["name"] for item in page["items"]] == ["first", "zeta", "alpha", "beta"]
    assert page["total"] == 4


def test_the_body_name_must_equal_the_path_name(client: TestClient, database: Database) -> None:
    _base(client)
    created(client, "routes", route("items"))
    before = store_state(database)

    response = client.put("/api/v1/routes/items", json=route("other"), headers={"If-Match": "*"})

    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "name"
    assert store_state(database) == before


def test_delete_releases_the_services(client: TestClient) -> None:
    _base(client)
    created(client, "routes", route("items", "chat"))

    assert client.delete("/api/v1/routes/items").status_code == 204
    assert client.delete("/api/v1/services/chat").status_code == 204
