"""/api/v1/api-keys: the key is made by the gateway and shown once; what is stored and shown
afterwards never holds it, nor its hash."""

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from controlplane.api.app import create_app
from controlplane.model.auth_api_keys import key_hasher
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.unit.api.conftest import (
    API_KEY_SECRET,
    RecordingPublisher,
    created,
    error_of,
    store_state,
)

PARTNER = {"name": "partner-a", "owner": "Acme", "roles": ["partner"], "tier": "gold"}


def test_the_key_is_shown_once_and_only_its_keyed_hash_is_stored(
    client: TestClient, database: Database
) -> None:
    answer = created(client, "api-keys", PARTNER)
    key = answer["key"]

    assert key.startswith("cgw_")
    assert len(key) >= 40
    assert {k: answer[k] for k in PARTNER} == PARTNER
    shown = [client.get("/api/v1/api-keys/partner-a").text, client.get("/api/v1/api-keys").text]
    digest = key_hasher(API_KEY_SECRET.encode())(key)
    for body in shown:
        assert key not in body
        assert digest not in body
        assert "key_hash" not in body
    with database.snapshot() as session:
        stored = " ".join(str(row) for row in session.execute(text("SELECT * FROM api_keys")))
    assert key[4:] not in stored
    assert digest in stored


def test_two_keys_differ_and_a_name_is_taken_once(client: TestClient) -> None:
    first = created(client, "api-keys", PARTNER)
    second = created(client, "api-keys", {**PARTNER, "name": "partner-b"})
    again = client.post("/api/v1/api-keys", json=PARTNER)

    assert first["key"] != second["key"]
    assert again.status_code == 409, again.text


def test_a_revoked_key_is_gone(client: TestClient, database: Database) -> None:
    created(client, "api-keys", PARTNER)

    assert client.delete("/api/v1/api-keys/partner-a").status_code == 204
    assert client.get("/api/v1/api-keys/partner-a").status_code == 404
    assert store_state(database)[0].api_keys == ()


def test_bad_keys_are_422_and_change_nothing(client: TestClient, database: Database) -> None:
    before = store_state(database)
    for body in (
        {**PARTNER, "expires_at": "2030-01-01T00:00:00"},  # no time zone
        {**PARTNER, "roles": ["partner", "partner"]},
        {**PARTNER, "key_hash": "0" * 64},  # not for callers to set
        {**PARTNER, "owner": ""},
    ):
        response = client.post("/api/v1/api-keys", json=body)
        assert response.status_code == 422, response.text
    assert store_state(database) == before


def test_without_a_secret_keys_cannot_be_made(database: Database) -> None:
    settings = Settings(mode="development", admin_token=SecretStr(""))
    app = create_app(settings, database, RecordingPublisher(), NodeRegistry())
    with TestClient(app) as client:
        response = client.post("/api/v1/api-keys", json=PARTNER)

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "no_api_key_secret"
