"""The access log: one line per request with the route template and request id, no secrets."""

import logging

import pytest
from fastapi.testclient import TestClient

from controlplane.logging import JsonFormatter
from tests.unit.api.conftest import TOKEN, ClientFactory, listener

ACCESS = "controlplane.api.access"


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS]


def test_one_line_per_request_with_template_status_and_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS):
        response = client.get("/api/v1/routes/chat", headers={"X-Request-Id": "req-42"})

    [record] = _access_records(caplog)
    assert response.headers["x-request-id"] == "req-42"
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["route"] == "/api/v1/routes/{name}"
    assert record.__dict__["status"] == 404
    assert record.__dict__["request_id"] == "req-42"
    assert record.__dict__["duration_seconds"] >= 0


def test_a_request_without_an_id_gets_one(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS):
        first = client.get("/livez")
        second = client.get("/livez", headers={"X-Request-Id": "bad id\twith spaces"})

    ids = [record.__dict__["request_id"] for record in _access_records(caplog)]
    assert ids == [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert len(set(ids)) == 2
    assert "bad id" not in ids[1]


def test_tokens_and_bodies_never_reach_the_logs(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(mode="production", token=TOKEN)
    secret_body = listener("secret-listener-name")

    with caplog.at_level(logging.DEBUG):
        client.post(
            "/api/v1/listeners", json=secret_body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        client.post("/api/v1/listeners", json=secret_body, headers={"Authorization": "Bearer nope"})

    formatter = JsonFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert len(_access_records(caplog)) == 2
    assert TOKEN not in lines
    assert "Bearer" not in lines
    assert "secret-listener-name" not in lines
