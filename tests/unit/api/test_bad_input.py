"""Bad input: a clear 4xx naming what is wrong, nothing stored, nothing published, never 5xx."""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

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

JSON = {"content-type": "application/json"}


@pytest.fixture
def seeded(client: TestClient, database: Database, publisher: RecordingPublisher) -> Iterator[None]:
    """A listener, a service and a route exist; the test's request must change none of it."""
    created(client, "listeners", listener())
    created(client, "services", service())
    created(client, "routes", route("items"))
    before, calls = store_state(database), publisher.calls
    yield
    assert store_state(database) == before
    assert publisher.calls == calls


def _route_with(**changes: Any) -> dict[str, Any]:
    body = route("new-route")
    body.update(changes)
    return body


def _details(response: Any) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = error_of(response)["details"]
    return details


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("match", "field"),
    [
        ({"path": {"type": "regex", "value": "(?=look-ahead)"}}, "match.path"),
        ({"path": {"type": "regex", "value": "(a)\\1"}}, "match.path"),
        (
            {"headers": [{"name": "x-player", "type": "regex", "value": "[unclosed"}]},
            "match.headers[0]",
        ),
        (
            {"query_params": [{"name": "q", "type": "regex", "value": "(?<!behind)x"}]},
            "match.query_params[0]",
        ),
    ],
)
def test_an_invalid_re2_regex_is_422_naming_the_field(
    client: TestClient, match: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/routes", json=_route_with(match=match))

    assert response.status_code == 422
    details = _details(response)
    assert [d["field"] for d in details] == [field]
    assert "RE2" in details[0]["message"]


@pytest.mark.usefixtures("seeded")
def test_a_regex_too_complex_for_envoy_is_422(client: TestClient) -> None:
    match = {"path": {"type": "regex", "value": "/x{101}"}}

    response = client.post("/api/v1/routes", json=_route_with(match=match))

    assert response.status_code == 422
    assert "too complex" in _details(response)[0]["message"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        (listener(port="eighty"), "port", "int_parsing"),
        (listener(port=70000), "port", "less_than_equal"),
        (listener(name="Public"), "name", "string_pattern_mismatch"),
        (listener(address="not-an-ip"), "address", "value_error"),
        (listener(http2="sometimes"), "http2", "bool_parsing"),
        ({"port": 8080}, "name", "missing"),
        (listener(colour="blue"), "colour", "extra_forbidden"),
    ],
)
def test_invalid_listener_fields_are_422_with_their_paths(
    client: TestClient, body: dict[str, Any], field: str, kind: str
) -> None:
    response = client.post("/api/v1/listeners", json=body)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert [(d["field"], d["location"], d["type"]) for d in error["details"]] == [
        (field, "body", kind)
    ]
    assert field in error["message"]


@pytest.mark.usefixtures("seeded")
def test_unknown_nested_fields_are_422(client: TestClient) -> None:
    body = _route_with(action={"backends": [{"service": "inventory", "wieght": 5}]})

    response = client.post("/api/v1/routes", json=body)

    assert response.status_code == 422
    assert _details(response)[0]["field"] == "action.backends[0].wieght"


@pytest.mark.usefixtures("seeded")
def test_a_bad_service_is_422_on_every_problem(client: TestClient) -> None:
    body = service("chat", endpoints=[{"host": "chat.internal", "port": 0}])

    response = client.post("/api/v1/services", json=body)

    assert response.status_code == 422
    fields = {d["field"] for d in _details(response)}
    assert "endpoints[0].port" in fields


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"name": "x", "port": 80', "not valid JSON"),
        (b"{'name': 'x'}", "not valid JSON"),
        (b'{"name": "x", "port": NaN}', "NaN"),
        (b'{"name": "caf\xe9", "port": 80}', "not UTF-8"),
        (b"[" * 100_000, "too deeply"),
        (b'{"name": "x", "port": ' + b"9" * 5000 + b"}", "digits"),
    ],
)
def test_malformed_json_is_400_saying_why(client: TestClient, raw: bytes, fragment: str) -> None:
    response = client.post("/api/v1/listeners", content=raw, headers=JSON)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert fragment in error["message"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "a JSON request body is required"),
        (b"null", "valid dictionary"),
        (b"[1, 2]", "valid dictionary"),
        (b'"listener"', "valid dictionary"),
    ],
)
def test_a_body_that_is_not_an_object_is_422(client: TestClient, raw: bytes, message: str) -> None:
    response = client.post("/api/v1/listeners", content=raw, headers=JSON)

    assert response.status_code == 422
    assert message in _details(response)[0]["message"]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = client.post(
        "/api/v1/listeners", content=json.dumps(listener()).encode(), headers=headers
    )

    assert response.status_code == 415
    assert "application/json" in error_of(response)["message"]


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client: TestClient) -> None:
    for index, content_type in enumerate(
        ["application/json; charset=utf-8", "application/merge-patch+json"]
    ):
        name = f"extra-{index}"
        response = client.post(
            "/api/v1/services",
            content=json.dumps(service(name)).encode(),
            headers={"content-type": content_type},
        )
        assert response.status_code == 201, response.text
        assert client.delete(f"/api/v1/services/{name}").status_code == 204


@pytest.mark.usefixtures("seeded")
def test_a_ten_megabyte_body_is_413_at_once(client: TestClient) -> None:
    body = b'{"name": "big", "port": 80, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'

    started = time.perf_counter()
    response = client.post("/api/v1/listeners", content=body, headers=JSON)
    elapsed = time.perf_counter() - started

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert elapsed < 5.0  # nothing but the header was looked at


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def test_a_chunked_body_is_cut_off_past_one_mebibyte(client: TestClient) -> None:
    # Straight ASGI: a test client would buffer the whole body before the app sees any.
    received = 0
    answer: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1024
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}  # forever

    async def send(message: Message) -> None:
        answer.append(message)

    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    await client.app(_scope("POST", "/api/v1/listeners", headers), receive, send)

    assert answer[0]["type"] == "http.response.start"
    assert answer[0]["status"] == 413
    assert received <= 1024 * 1024 + 1024


@pytest.mark.parametrize("value", [b"12 bytes", b"-1", b"0x10", "\u00b2".encode("latin-1")])
async def test_an_invalid_content_length_is_400(client: TestClient, value: bytes) -> None:
    answer: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        answer.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", value)]
    await client.app(_scope("POST", "/api/v1/listeners", headers), receive, send)

    assert answer[0]["status"] == 400


@pytest.mark.usefixtures("seeded")
def test_a_body_just_under_the_bound_is_read(client: TestClient) -> None:
    body = json.dumps({**listener("padded", 9999), "pad": "x" * 1_000_000}).encode()
    assert len(body) < 1024 * 1024

    response = client.post("/api/v1/listeners", content=body, headers=JSON)

    assert response.status_code == 422
    assert _details(response)[0]["field"] == "pad"


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "text", ["/\\ud800", "/\\udfff-lone-low", "/x\\ud83d"], ids=["high", "low", "cut-pair"]
)
def test_a_lone_surrogate_is_422(client: TestClient, text: str) -> None:
    raw = json.dumps(_route_with(match={"path": {"type": "prefix", "value": "PLACEHOLDER"}}))
    raw = raw.replace("PLACEHOLDER", text)

    response = client.post("/api/v1/routes", content=raw.encode(), headers=JSON)

    assert response.status_code == 422
    assert _details(response)[0]["field"] == "match.path.value"


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/routes/Items",
        "/api/v1/routes/a%00b",
        "/api/v1/routes/" + "a" * 64,
        "/api/v1/routes/-items",
    ],
)
def test_an_impossible_name_in_the_path_is_422(client: TestClient, path: str) -> None:
    for response in (
        client.get(path),
        client.delete(path),
        client.put(path, json=route("items"), headers={"If-Match": "*"}),
    ):
        assert response.status_code == 422, response.text
        assert _details(response)[0]["location"] == "path"


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"offset": str(10**20)},
    ],
)
def test_out_of_range_pagination_is_422(client: TestClient, query: dict[str, str]) -> None:
    response = client.get("/api/v1/routes", params=query)

    assert response.status_code == 422
    assert _details(response)[0]["location"] == "query"


@pytest.mark.usefixtures("seeded")
def test_unknown_paths_and_methods_answer_in_the_error_format(client: TestClient) -> None:
    missing = client.get("/api/v1/teapots")
    wrong_method = client.patch("/api/v1/routes/items", json={})

    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "DELETE, GET, PUT"
