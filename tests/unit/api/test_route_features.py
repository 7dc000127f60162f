"""/api/v1/routes: shadowing warnings on save, the rollout endpoint, and input Envoy would
refuse answered with a 422 that says what is wrong, before anything is stored."""

from typing import Any

import pytest
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


@pytest.fixture
def seeded(client: TestClient) -> None:
    created(client, "listeners", listener())
    created(client, "listeners", listener("admin", port=9090))
    for name in ("inventory", "inventory-v2", "shadow"):
        created(client, "services", service(name))


def _path(kind: str, value: str) -> dict[str, Any]:
    return {"path": {"type": kind, "value": value}}


def _warnings(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(warning["type"], warning["route"]) for warning in body["warnings"]]


@pytest.mark.usefixtures("seeded")
def test_a_route_behind_a_catch_all_is_saved_with_a_warning(client: TestClient) -> None:
    created(client, "routes", route("catch-all", prefix="/", order=10))

    body = created(client, "routes", route("inventory", prefix="/inventory", order=20))

    assert _warnings(body) == [("shadowed", "catch-all")]
    assert "'inventory' can never match" in body["warnings"][0]["message"]
    # Saved all the same, and reading it shows the warning again.
    read = client.get("/api/v1/routes/inventory").json()
    assert _warnings(read) == [("shadowed", "catch-all")]


@pytest.mark.usefixtures("seeded")
def test_saving_a_route_that_shadows_later_ones_warns_about_them(client: TestClient) -> None:
    created(client, "routes", route("items", prefix="/items/", order=20))
    created(client, "routes", route("item-7", match=_path("exact", "/items/7"), order=30))

    body = created(client, "routes", route("all-items", prefix="/items", order=5))

    assert _warnings(body) == [("shadows", "items"), ("shadows", "item-7")]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # Wider hosts, methods, and a subset of header conditions.
        (
            {
                "hosts": ["*.chaos.test"],
                "match": {**_path("prefix", "/a"), "methods": ["GET", "POST"]},
            },
            {"hosts": ["api.chaos.test"], "match": {**_path("prefix", "/a/b"), "methods": ["GET"]}},
        ),
        (
            {"match": {**_path("prefix", "/"), "headers": [{"name": "X-Beta", "type": "present"}]}},
            {
                "match": {
                    **_path("template", "/p/{id}"),
                    "headers": [
                        {"name": "x-beta", "type": "present"},
                        {"name": "x-b", "value": "1"},
                    ],
                }
            },
        ),
        ({"match": _path("regex", "/v[0-9]+/.*")}, {"match": _path("exact", "/v2/items")}),
        ({"match": _path("prefix", "/")}, {"match": _path("regex", "^/items/[0-9]+")}),
        ({"match": _path("prefix", "/chaos.")}, {"match": {"grpc": {"service": "chaos.World"}}}),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_shadowing_is_found_whatever_the_match_kind(
    client: TestClient, earlier: dict[str, Any], later: dict[str, Any]
) -> None:
    created(client, "routes", {**route("earlier", order=1), **earlier})

    body = created(client, "routes", {**route("later", order=2), **later})

    assert _warnings(body) == [("shadowed", "earlier")]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # Each earlier route leaves the later one some request of its own.
        ({"match": _path("prefix", "/items")}, {"match": _path("prefix", "/item")}),
        ({"order": 3, "match": _path("prefix", "/")}, {"match": _path("prefix", "/a")}),
        ({"listener": "admin", "match": _path("prefix", "/")}, {"match": _path("prefix", "/a")}),
        ({"hosts": ["api.chaos.test"]}, {"hosts": ["*.chaos.test"]}),
        ({"hosts": ["api.chaos.test"]}, {"hosts": ["api.chaos.test", "m.chaos.test"]}),
        ({"match": {**_path("prefix", "/"), "methods": ["GET"]}}, {"match": _path("prefix", "/")}),
        (
            {"match": {**_path("prefix", "/"), "methods": ["GET"]}},
            {"match": {**_path("prefix", "/"), "methods": ["GET", "POST"]}},
        ),
        (
            {"match": {**_path("prefix", "/"), "headers": [{"name": "x-a", "value": "1"}]}},
            {"match": {**_path("prefix", "/"), "headers": [{"name": "x-a", "value": "2"}]}},
        ),
        (
            {"match": {**_path("prefix", "/"), "query_params": [{"name": "v", "type": "present"}]}},
            {"match": _path("prefix", "/x")},
        ),
        (
            {"match": {"grpc": {"service": "chaos.World"}}},
            {"match": _path("prefix", "/chaos.World/")},
        ),
        ({"match": _path("regex", "/a.*")}, {"match": _path("prefix", "/a")}),
        ({"match": _path("regex", "/a.*")}, {"match": _path("regex", "/ab.*")}),
        ({"match": _path("prefix", "/")}, {"match": _path("regex", "/a|.*")}),
        ({"match": _path("template", "/p/{id}")}, {"match": _path("exact", "/p/1")}),
        ({"match": _path("prefix", "/p/1")}, {"match": _path("template", "/p/{id}")}),
    ],
)
@pytest.mark.usefixtures("seeded")
def test_no_warning_for_a_route_that_can_still_match(
    client: TestClient, earlier: dict[str, Any], later: dict[str, Any]
) -> None:
    created(client, "routes", {**route("earlier", order=1), **earlier})

    body = created(client, "routes", {**route("later", order=2), **later})

    assert body["warnings"] == []


@pytest.mark.usefixtures("seeded")
def test_the_rollout_share_moves_alone(client: TestClient, publisher: RecordingPublisher) -> None:
    action = {
        "backends": [{"service": "inventory"}],
        "rollout": {"service": "inventory-v2", "percent": 5},
    }
    created(client, "routes", route("shop", action=action))
    calls = publisher.calls

    response = client.put("/api/v1/routes/shop/rollout", json={"percent": 50})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"]["rollout"] == {"service": "inventory-v2", "percent": 50}
    assert body["metadata"]["version"] == 2
    assert response.headers["etag"] == body["metadata"]["etag"]
    assert publisher.calls == calls + 1
    assert client.get("/api/v1/routes/shop").json()["action"] == body["action"]


@pytest.mark.usefixtures("seeded")
def test_the_rollout_endpoint_refuses_what_it_cannot_do(client: TestClient) -> None:
    created(client, "routes", route("plain"))

    no_rollout = client.put("/api/v1/routes/plain/rollout", json={"percent": 5})
    missing = client.put("/api/v1/routes/ghost/rollout", json={"percent": 5})
    too_much = client.put("/api/v1/routes/plain/rollout", json={"percent": 101})
    stale = client.put(
        "/api/v1/routes/plain/rollout", json={"percent": 5}, headers={"If-Match": '"nope"'}
    )

    assert (no_rollout.status_code, error_of(no_rollout)["code"]) == (409, "conflict")
    assert "has no rollout" in error_of(no_rollout)["message"]
    assert missing.status_code == 404
    assert too_much.status_code == 422
    assert stale.status_code == 412


@pytest.mark.usefixtures("seeded")
def test_a_service_named_by_a_canary_mirror_or_rollout_must_exist(client: TestClient) -> None:
    action = {
        "backends": [{"service": "inventory"}],
        "canary": {"service": "ghost-1", "header": {"name": "x-tester", "value": "1"}},
        "rollout": {"service": "ghost-2"},
        "mirror": {"service": "shadow"},
    }

    response = client.post("/api/v1/routes", json=route("shop", action=action))

    assert response.status_code == 422
    fields = [detail["field"] for detail in error_of(response)["details"]]
    assert fields == ["action.canary.service", "action.rollout.service"]


FORWARD = {"backends": [{"service": "inventory"}]}
REJECTED: dict[str, tuple[dict[str, Any], str, str]] = {
    "template variable unclosed": (
        {"match": _path("template", "/players/{id/inventory")},
        "match.path",
        "not closed",
    ),
    "template ** not last": (
        {"match": _path("template", "/files/**/{id}")},
        "match.path",
        "'**' must be the last operator",
    ),
    "template variable twice": (
        {"match": _path("template", "/a/{id}/b/{id}")},
        "match.path",
        "appears twice",
    ),
    "template six variables": (
        {"match": _path("template", "/{a}/{b}/{c}/{d}/{e}/{f}")},
        "match.path",
        "at most 5",
    ),
    "template bad name": ({"match": _path("template", "/p/{1id}")}, "match.path", "letter"),
    "regex rewrite bad regex": (
        {"action": {**FORWARD, "rewrite": {"regex": {"pattern": "(?=x)", "substitution": "/"}}}},
        "action.rewrite.regex",
        "invalid RE2 regex",
    ),
    "regex rewrite missing group": (
        {"action": {**FORWARD, "rewrite": {"regex": {"pattern": "^/a$", "substitution": r"/\1"}}}},
        "action.rewrite.regex",
        "group \\1",
    ),
    "prefix rewrite on a regex path": (
        {"match": _path("regex", "/a.*"), "action": {**FORWARD, "rewrite": {"prefix": "/b"}}},
        "",
        "prefix rewrite needs a prefix or exact path",
    ),
    "redirect path and prefix": (
        {"action": {"type": "redirect", "path": "/a", "prefix_rewrite": "/b"}},
        "action",
        "at most one of 'path', 'prefix_rewrite'",
    ),
    "redirect that changes nothing": (
        {"action": {"type": "redirect"}},
        "action",
        "must change something",
    ),
    "redirect code": (
        {"action": {"type": "redirect", "https": True, "response_code": 304}},
        "action.response_code",
        "301",
    ),
    "direct response status": (
        {"action": {"type": "direct_response", "status": 199}},
        "action.status",
        "greater than or equal to 200",
    ),
    "direct response body too big": (
        {"action": {"type": "direct_response", "status": 503, "body": "é" * 2049}},
        "action",
        "larger than 4096 bytes",
    ),
    "unknown action type": ({"action": {"type": "teleport"}}, "action", "type must be one of"),
    "canary with header and cookie": (
        {
            "action": {
                **FORWARD,
                "canary": {
                    "service": "inventory-v2",
                    "header": {"name": "x-t", "value": "1"},
                    "cookie": {"name": "c", "value": "1"},
                },
            }
        },
        "action.canary",
        "exactly one of 'header' and 'cookie'",
    ),
    "grpc with another path": (
        {"match": {**_path("prefix", "/x"), "grpc": {"service": "chaos.World"}}},
        "match",
        "omit path",
    ),
    "grpc service name": (
        {"match": {"grpc": {"service": "chaos/World"}}},
        "match.grpc.service",
        "pattern",
    ),
    "absent header with a value": (
        {"match": {"headers": [{"name": "x-a", "type": "absent", "value": "1"}]}},
        "match.headers[0]",
        "takes no value",
    ),
    "empty suffix": (
        {"match": {"headers": [{"name": "x-a", "type": "suffix", "value": ""}]}},
        "match.headers[0]",
        "non-empty value",
    ),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
@pytest.mark.usefixtures("seeded")
def test_input_envoy_would_refuse_is_a_clear_422(
    client: TestClient, database: Database, case: str
) -> None:
    fields, field, message = REJECTED[case]
    before = store_state(database)

    response = client.post("/api/v1/routes", json={**route("bad"), **fields})

    assert response.status_code == 422, response.text
    details = error_of(response)["details"]
    assert any(
        (detail.get("field") or "") == field and message in detail["message"] for detail in details
    ), details
    assert store_state(database) == before
