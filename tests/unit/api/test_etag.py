"""Optimistic concurrency: ETag on every read and write, If-Match on PUT and DELETE."""

from fastapi.testclient import TestClient

from controlplane.store import Database
from tests.unit.api.conftest import RecordingPublisher, created, error_of, service, store_state


def test_put_without_if_match_is_428_and_changes_nothing(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    created(client, "services", service())
    before, calls = store_state(database), publisher.calls

    response = client.put("/api/v1/services/inventory", json=service("inventory", "10.0.0.9"))

    assert response.status_code == 428
    assert "If-Match" in error_of(response)["message"]
    assert store_state(database) == before
    assert publisher.calls == calls


def test_put_with_a_stale_etag_is_412_and_changes_nothing(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    stale = created(client, "services", service())["metadata"]["etag"]
    fresh = client.put(
        "/api/v1/services/inventory",
        json=service("inventory", "10.0.0.2"),
        headers={"If-Match": stale},
    )
    assert fresh.status_code == 200
    before, calls = store_state(database), publisher.calls

    response = client.put(
        "/api/v1/services/inventory",
        json=service("inventory", "10.0.0.3"),
        headers={"If-Match": stale},
    )

    assert response.status_code == 412
    assert fresh.headers["etag"] in error_of(response)["message"]
    assert store_state(database) == before
    assert publisher.calls == calls


def test_if_match_star_overwrites_any_version(client: TestClient) -> None:
    created(client, "services", service())

    response = client.put(
        "/api/v1/services/inventory",
        json=service("inventory", "10.0.0.7"),
        headers={"If-Match": "*"},
    )

    assert response.status_code == 200
    assert response.json()["endpoints"][0]["host"] == "10.0.0.7"


def test_if_match_accepts_a_list_and_an_unquoted_tag(client: TestClient) -> None:
    etag = created(client, "services", service())["metadata"]["etag"]

    listed = client.put(
        "/api/v1/services/inventory",
        json=service("inventory", "10.0.0.2"),
        headers={"If-Match": f'"0-0", {etag}'},
    )
    unquoted = client.put(
        "/api/v1/services/inventory",
        json=service("inventory", "10.0.0.3"),
        headers={"If-Match": listed.headers["etag"].strip('"')},
    )

    assert listed.status_code == 200
    assert unquoted.status_code == 200


def test_a_weak_etag_never_matches(client: TestClient) -> None:
    etag = created(client, "services", service())["metadata"]["etag"]

    response = client.put(
        "/api/v1/services/inventory", json=service(), headers={"If-Match": f"W/{etag}"}
    )

    assert response.status_code == 412


def test_an_identical_put_changes_nothing_and_pushes_nothing(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    etag = created(client, "services", service())["metadata"]["etag"]
    before, calls = store_state(database), publisher.calls

    response = client.put("/api/v1/services/inventory", json=service(), headers={"If-Match": etag})

    assert response.status_code == 200
    assert response.headers["etag"] == etag
    assert store_state(database) == before
    assert publisher.calls == calls


def test_each_change_gives_a_new_etag_and_version(client: TestClient) -> None:
    etag = created(client, "services", service())["metadata"]["etag"]
    seen = {etag}
    for host in ["10.0.0.2", "10.0.0.3"]:
        response = client.put(
            "/api/v1/services/inventory",
            json=service("inventory", host),
            headers={"If-Match": etag},
        )
        etag = response.headers["etag"]
        seen.add(etag)

    assert len(seen) == 3
    assert client.get("/api/v1/services/inventory").json()["metadata"]["version"] == 3


def test_a_recreated_resource_does_not_match_the_old_etag(client: TestClient) -> None:
    old = created(client, "services", service())["metadata"]["etag"]
    assert client.delete("/api/v1/services/inventory").status_code == 204
    new = created(client, "services", service())["metadata"]["etag"]

    response = client.put("/api/v1/services/inventory", json=service(), headers={"If-Match": old})

    assert new != old
    assert response.status_code == 412


def test_delete_honours_if_match_when_given(
    client: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    etag = created(client, "services", service())["metadata"]["etag"]
    before, calls = store_state(database), publisher.calls

    refused = client.delete("/api/v1/services/inventory", headers={"If-Match": '"0-0"'})

    assert refused.status_code == 412
    assert store_state(database) == before
    assert publisher.calls == calls
    assert (
        client.delete("/api/v1/services/inventory", headers={"If-Match": etag}).status_code == 204
    )


def test_put_of_a_missing_resource_is_404(client: TestClient) -> None:
    response = client.put("/api/v1/services/inventory", json=service(), headers={"If-Match": "*"})

    assert response.status_code == 404
