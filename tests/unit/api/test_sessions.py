"""/api/v1/sessions and /api/v1/players/{player_id}/sessions: the id is shown once, bad input is
a 422 that makes no session, an unknown session is a 404, and a Redis that does not answer is a
503 (then service again once it is back). Redis: the shared one, under a prefix per test;
a private redis-server for the outage."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from controlplane.api.app import create_app
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.support.redis_server import RedisServer
from tests.unit.api.conftest import (
    ClientFactory,
    RecordingPublisher,
    created,
    error_of,
    listener,
    route,
    service,
)

LOGIN = {
    "player_id": "player-7",
    "roles": ["player"],
    "tier": "gold",
    "idle_timeout_seconds": 600,
    "absolute_timeout_seconds": 3600,
}


def test_a_session_is_made_with_its_id_shown_once(client: TestClient) -> None:
    response = client.post("/api/v1/sessions", json=LOGIN)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    made = response.json()
    assert {key: made[key] for key in LOGIN} == LOGIN
    assert len(made["session_id"]) == 43
    assert made["fingerprint"] not in made["session_id"]
    listed = client.get("/api/v1/players/player-7/sessions")
    assert listed.status_code == 200, listed.text
    assert made["session_id"] not in listed.text
    (session,) = listed.json()["sessions"]
    assert session["fingerprint"] == made["fingerprint"]
    for instant in ("created_at", "idle_expires_at", "absolute_expires_at"):
        assert session[instant] == made[instant]


def test_defaults_and_two_sessions_differ(client: TestClient) -> None:
    first = created(client, "sessions", {"player_id": "player-7"})
    second = created(client, "sessions", {"player_id": "player-7"})

    assert first["session_id"] != second["session_id"]
    assert (first["idle_timeout_seconds"], first["absolute_timeout_seconds"]) == (1800, 86400)
    assert (first["roles"], first["tier"]) == ([], None)
    assert len(client.get("/api/v1/players/player-7/sessions").json()["sessions"]) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"player_id": ""},
        {"player_id": "two words"},
        {"player_id": "a,b"},
        {"player_id": "x" * 129},
        {"roles": ["player", "player"]},
        {"roles": ["not a role"]},
        {"idle_timeout_seconds": 0},
        {"absolute_timeout_seconds": 90 * 86400 + 1},
        {"idle_timeout_seconds": 7200},  # longer than the absolute timeout
        {"session_id": "mine"},  # not for callers to choose
    ],
)
def test_bad_sessions_are_422_and_make_nothing(client: TestClient, change: dict[str, Any]) -> None:
    response = client.post("/api/v1/sessions", json={**LOGIN, **change})

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"
    assert client.get("/api/v1/players/player-7/sessions").json()["sessions"] == []


def test_logout_revokes_one_session_and_then_it_is_404(client: TestClient) -> None:
    first = created(client, "sessions", LOGIN)
    second = created(client, "sessions", LOGIN)

    assert client.delete(f"/api/v1/sessions/{first['session_id']}").status_code == 204

    again = client.delete(f"/api/v1/sessions/{first['session_id']}")
    assert again.status_code == 404, again.text
    assert first["session_id"] not in again.text
    assert client.delete("/api/v1/sessions/never-made").status_code == 404
    listed = client.get("/api/v1/players/player-7/sessions").json()["sessions"]
    assert [s["fingerprint"] for s in listed] == [second["fingerprint"]]


def test_a_ban_revokes_every_session_of_the_player(client: TestClient) -> None:
    for _ in range(3):
        created(client, "sessions", LOGIN)
    created(client, "sessions", {**LOGIN, "player_id": "player-8"})

    response = client.delete("/api/v1/players/player-7/sessions")

    assert response.status_code == 200, response.text
    assert response.json() == {"player_id": "player-7", "revoked": 3}
    assert client.get("/api/v1/players/player-7/sessions").json()["sessions"] == []
    assert len(client.get("/api/v1/players/player-8/sessions").json()["sessions"]) == 1
    assert client.delete("/api/v1/players/player-7/sessions").json()["revoked"] == 0
    assert client.get("/api/v1/players/not%20valid/sessions").status_code == 422


def test_sessions_need_the_admin_token(make_client: ClientFactory) -> None:
    token = "a-long-enough-admin-token-0123456789"
    client = make_client(mode="production", token=token)

    assert client.post("/api/v1/sessions", json=LOGIN).status_code == 401
    assert client.delete("/api/v1/players/player-7/sessions").status_code == 401
    authorized = {"authorization": f"Bearer {token}"}
    made = client.post("/api/v1/sessions", json=LOGIN, headers=authorized)
    assert made.status_code == 201, made.text


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_redis_down_is_503_and_service_resumes_when_it_is_back(
    private_redis: RedisServer, database: Database, tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {
            "mode": "development",
            "admin_token": SecretStr(""),
            "sessions_redis_url": private_redis.url,
        }
    )
    app = create_app(settings, database, RecordingPublisher(), NodeRegistry())
    with TestClient(app) as client:
        made = created(client, "sessions", LOGIN)
        private_redis.stop()

        for method, path in (
            ("POST", "/api/v1/sessions"),
            ("DELETE", f"/api/v1/sessions/{made['session_id']}"),
            ("GET", "/api/v1/players/player-7/sessions"),
            ("DELETE", "/api/v1/players/player-7/sessions"),
        ):
            response = client.request(method, path, json=LOGIN if method == "POST" else None)
            assert response.status_code == 503, response.text
            assert error_of(response)["code"] == "sessions_unavailable"
            assert response.headers["retry-after"] == "1"

        back = RedisServer(tmp_path / "back", port=private_redis.port).start()
        try:
            assert client.post("/api/v1/sessions", json=LOGIN).status_code == 201
        finally:
            back.stop()


def test_a_route_may_accept_sessions_from_its_cookie(make_client: ClientFactory) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    session = {"type": "authenticated", "credentials": [{"kind": "session", "cookie": "sid"}]}

    created(client, "routes", route(auth=session))
    default = {"type": "authenticated", "credentials": [{"kind": "session"}]}
    created(client, "routes", route("other", prefix="/other", auth=default))

    stored = client.get("/api/v1/routes/other").json()["auth"]["credentials"]
    assert stored == [{"kind": "session", "cookie": "chaosgw_session"}]
    for cookie in ("", "a b", "a;b", "a=b"):
        bad = {**session, "credentials": [{"kind": "session", "cookie": cookie}]}
        response = client.post("/api/v1/routes", json=route("bad", prefix="/bad", auth=bad))
        assert response.status_code == 422, response.text
