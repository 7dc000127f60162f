"""/livez, /readyz and /metrics, what happens when the database is gone, and readiness held
back while the services resubscribe after a start."""

import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr

from controlplane.api import create_app
from controlplane.api.ops import RESUBSCRIBE_SECONDS
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from tests.unit.api.conftest import RecordingPublisher, error_of


def _requests(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "chaosgw_admin_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


def test_livez_and_readyz_answer_200_when_all_is_well(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "ok", "reason": None}
    assert client.get("/readyz").json() == {"status": "ok", "reason": None}


def test_without_a_database_readyz_is_503_and_the_api_503_not_500(tmp_path: Path) -> None:
    # A directory where the SQLite file should be: every connection attempt fails.
    broken = Database(f"sqlite:///{tmp_path}")
    settings = Settings(mode="development", admin_token=SecretStr(""))
    client = TestClient(create_app(settings, broken, RecordingPublisher(), NodeRegistry()))
    try:
        ready = client.get("/readyz")
        listing = client.get("/api/v1/listeners")
        alive = client.get("/livez")
    finally:
        client.close()
        broken.dispose()

    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert "database" in ready.json()["reason"]
    assert listing.status_code == 503
    assert error_of(listing)["code"] == "database_unavailable"
    assert alive.status_code == 200


def test_readyz_says_starting_until_the_services_had_time_to_resubscribe(
    database: Database,
) -> None:
    settings = Settings(mode="development", admin_token=SecretStr(""))
    started = time.monotonic()
    app = create_app(settings, database, RecordingPublisher(), NodeRegistry(), started)
    answers: list[tuple[float, int, dict[str, str | None]]] = []
    with TestClient(app) as client:
        while time.monotonic() - started < RESUBSCRIBE_SECONDS + 2.0:
            ready = client.get("/readyz")
            answers.append((time.monotonic() - started, ready.status_code, ready.json()))
            if ready.status_code == 200:
                break
            time.sleep(0.02)

    first, *_, last = answers
    assert first[1:] == (
        503,
        {"status": "starting", "reason": "waiting for the services to resubscribe"},
    )
    assert last[1:] == (200, {"status": "ok", "reason": None})
    # Not ready before the window ends, and ready soon after it.
    assert all(status == 503 for _, status, _ in answers[:-1])
    assert RESUBSCRIBE_SECONDS <= last[0] < RESUBSCRIBE_SECONDS + 1.0


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    before_missing = _requests("GET", "/api/v1/routes/{name}", "404")
    before_list = _requests("GET", "/api/v1/routes", "200")

    client.get("/api/v1/routes/some-unique-name")
    client.get("/api/v1/routes")
    text = client.get("/metrics").text

    assert _requests("GET", "/api/v1/routes/{name}", "404") == before_missing + 1
    assert _requests("GET", "/api/v1/routes", "200") == before_list + 1
    assert "some-unique-name" not in text
    assert "chaosgw_admin_request_duration_seconds_bucket" in text


def test_requests_refused_before_routing_still_get_their_template(client: TestClient) -> None:
    before = _requests("POST", "/api/v1/routes", "415")
    unmatched = _requests("GET", "<unmatched>", "404")

    client.post("/api/v1/routes", content=b"x", headers={"content-type": "text/plain"})
    client.get("/api/v1/definitely/not/here")

    assert _requests("POST", "/api/v1/routes", "415") == before + 1
    assert _requests("GET", "<unmatched>", "404") == unmatched + 1


def test_odd_methods_share_one_label(client: TestClient) -> None:
    before = _requests("OTHER", "/api/v1/routes", "405")

    client.request("BREW", "/api/v1/routes")

    assert _requests("OTHER", "/api/v1/routes", "405") == before + 1
