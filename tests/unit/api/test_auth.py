"""Authentication: a bearer token on every /api/v1 request unless in open development mode."""

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.api import create_app
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.unit.api.conftest import (
    TOKEN,
    ClientFactory,
    RecordingPublisher,
    error_of,
    listener,
    store_state,
)

PROTECTED = [
    ("GET", "/api/v1/listeners"),
    ("GET", "/api/v1/routes/items"),
    ("GET", "/api/v1/nodes"),
    ("DELETE", "/api/v1/services/inventory"),
    ("GET", "/api/v1/no-such-thing"),
]


@pytest.fixture(params=["production", "development"])
def guarded(request: pytest.FixtureRequest, make_client: ClientFactory) -> TestClient:
    """An app that requires the token: production mode, or development mode with a token."""
    return make_client(mode=request.param, token=TOKEN)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401_with_a_bearer_challenge(
    guarded: TestClient, method: str, path: str
) -> None:
    response = guarded.request(method, path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token-0123456789abcdefgh",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer",
        "Bearer ",
    ],
)
def test_a_wrong_token_is_401(guarded: TestClient, authorization: str) -> None:
    response = guarded.get("/api/v1/listeners", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


def test_the_right_token_is_let_in(guarded: TestClient) -> None:
    response = guarded.get("/api/v1/listeners", headers={"Authorization": f"Bearer {TOKEN}"})
    lowercase = guarded.get("/api/v1/listeners", headers={"Authorization": f"bearer {TOKEN}"})

    assert response.status_code == 200
    assert lowercase.status_code == 200


def test_an_unauthenticated_write_is_refused_before_its_body_is_looked_at(
    guarded: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    before = store_state(database)

    responses = [
        guarded.post("/api/v1/listeners", json=listener()),
        guarded.post("/api/v1/listeners", content=b"{not json", headers={"content-type": "text/x"}),
        guarded.post("/api/v1/listeners", content=b"x" * (2 * 1024 * 1024)),
    ]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert store_state(database) == before
    assert publisher.calls == 0


def test_an_authenticated_write_goes_through(
    make_client: ClientFactory, publisher: RecordingPublisher
) -> None:
    client = make_client(mode="production", token=TOKEN, Authorization=f"Bearer {TOKEN}")

    response = client.post("/api/v1/listeners", json=listener())

    assert response.status_code == 201
    assert publisher.calls == 1


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics", "/openapi.json", "/docs"])
def test_operational_paths_need_no_token(guarded: TestClient, path: str) -> None:
    assert guarded.get(path).status_code == 200


def test_development_mode_without_a_token_is_open(client: TestClient) -> None:
    assert client.get("/api/v1/listeners").status_code == 200


def test_the_openapi_document_declares_the_bearer_scheme(guarded: TestClient) -> None:
    document = guarded.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/routes"]["get"]["security"] == [{"HTTPBearer": []}]


def test_an_app_without_a_token_outside_development_is_refused(
    database: Database, publisher: RecordingPublisher, nodes: NodeRegistry
) -> None:
    # Settings refuses this itself; an app built from hand-made settings must refuse it too.
    settings = Settings.model_construct(mode="production", admin_token=SecretStr(""))

    with pytest.raises(ValueError, match="CHAOSGW_ADMIN_TOKEN"):
        create_app(settings, database, publisher, nodes)
