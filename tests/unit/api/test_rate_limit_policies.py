"""/api/v1/rate-limit-policies: CRUD, bad input, references to routes, and the rate-limit
service a global policy needs."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from controlplane.store import Database
from tests.unit.api.conftest import (
    ClientFactory,
    RecordingPublisher,
    created,
    error_of,
    listener,
    policy,
    route,
    service,
    store_state,
)

PATH = "/api/v1/rate-limit-policies"


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    """A control plane with a rate-limit service, and a route to attach policies to."""
    client = make_client(ratelimit_endpoints=("127.0.0.1:8081",))
    created(client, "listeners", listener())
    created(client, "services", service())
    created(client, "routes", route("items"))
    return client


def test_create_get_list_replace_delete(client: TestClient, publisher: RecordingPublisher) -> None:
    calls = publisher.calls
    body = created(
        client,
        "rate-limit-policies",
        policy("per-player", "items", tiers={"premium": {"requests": 500}}, burst=10),
    )
    assert body["tiers"] == {"premium": {"requests": 500, "burst": 0}}
    assert body["on_redis_error"] == {"mode": "allow", "local_requests": None}
    assert body["shadow"] is False

    assert client.get(f"{PATH}/per-player").json() == body
    listed = client.get(PATH).json()
    assert [item["name"] for item in listed["items"]] == ["per-player"]

    replaced = client.put(
        f"{PATH}/per-player",
        json=policy("per-player", shadow=True),
        headers={"If-Match": body["metadata"]["etag"]},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["applies_to"] == {"type": "gateway"}
    assert replaced.json()["shadow"] is True

    assert client.delete(f"{PATH}/per-player").status_code == 204
    assert client.get(f"{PATH}/per-player").status_code == 404
    assert publisher.calls == calls + 3


def test_a_policy_naming_an_unknown_route_is_422_and_stores_nothing(
    client: TestClient, database: Database
) -> None:
    before = store_state(database)

    response = client.post(PATH, json=policy("p", "items", "nope", "gone"))

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_reference"
    assert [d["field"] for d in error["details"]] == [
        "applies_to.routes[1]",
        "applies_to.routes[2]",
    ]
    assert "'nope'" in error["message"]
    assert store_state(database) == before


def test_deleting_a_route_a_policy_names_is_409_until_the_policy_lets_go(
    client: TestClient, database: Database
) -> None:
    body = created(client, "rate-limit-policies", policy("per-player", "items"))
    before = store_state(database)

    response = client.delete("/api/v1/routes/items")

    assert response.status_code == 409
    error = error_of(response)
    assert "'per-player'" in error["message"]
    assert error["details"][0]["resource"] == f"{PATH}/per-player"
    assert store_state(database) == before

    moved = client.put(
        f"{PATH}/per-player",
        json=policy("per-player"),
        headers={"If-Match": body["metadata"]["etag"]},
    )
    assert moved.status_code == 200
    assert client.delete("/api/v1/routes/items").status_code == 204


def test_a_global_policy_without_a_rate_limit_service_is_422(
    make_client: ClientFactory, database: Database
) -> None:
    client = make_client()
    before = store_state(database)

    response = client.post(PATH, json=policy("per-player"))

    assert response.status_code == 422
    error = error_of(response)
    assert "no rate-limit service is configured" in error["message"]
    assert error["details"][0]["field"] == "enforcement"
    assert store_state(database) == before
    # A local policy needs no service.
    created(client, "rate-limit-policies", policy("flood", enforcement="local"))


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"limit": {"requests": 10, "window_seconds": 86_401}}, "limit.window_seconds", "86400"),
        ({"limit": {"requests": 0, "window_seconds": 1}}, "limit.requests", "greater than"),
        ({"counted_by": ["ip", "ip"]}, None, "same key twice"),
        ({"counted_by": ["planet"]}, "counted_by[0]", None),
        ({"counted_by": [{"header": "bad header"}]}, "counted_by[0]", None),
        ({"on_redis_error": {"mode": "local"}}, "on_redis_error", "local_requests"),
        ({"applies_to": {"type": "routes", "routes": []}}, "applies_to.routes.routes", None),
        ({"applies_to": {"type": "hosts", "hosts": ["a..b*x*"]}}, None, "is not a host"),
        (
            {
                "applies_to": {"type": "hosts", "hosts": ["api.example.com"]},
                "counted_by": ["route"],
            },
            None,
            "cannot count by 'route'",
        ),
        ({"enforcement": "local", "tiers": {"gold": {"requests": 5}}}, None, "cannot honour tiers"),
        ({"enforcement": "local", "shadow": True}, None, "cannot honour shadow"),
        ({"window": "1m"}, "window", None),
    ],
)
def test_bad_policies_are_422_saying_what_is_wrong(
    client: TestClient,
    database: Database,
    change: dict[str, Any],
    field: str | None,
    fragment: str | None,
) -> None:
    before = store_state(database)

    response = client.post(PATH, json={**policy("bad"), **change})

    assert response.status_code == 422, response.text
    error = error_of(response)
    if field is not None:
        fields = [detail.get("field") or "" for detail in error["details"]]
        assert any(name.startswith(field) for name in fields), error
    if fragment is not None:
        assert fragment in " ".join(d["message"] for d in error["details"]), error
    assert store_state(database) == before
