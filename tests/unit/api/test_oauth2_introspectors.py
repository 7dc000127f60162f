"""/api/v1/oauth2-introspectors and routes accepting introspected tokens: the client secret goes
in and never comes out, bad input is a clear 422 (or 409) that changes nothing, and what is
stored reaches the auth service."""

from typing import Any

import pytest
from chaosgw.auth.v1 import auth_pb2
from fastapi.testclient import TestClient

from controlplane.store import Database
from controlplane.translator import introspector_resources, route_policy_resources
from tests.unit.api.conftest import (
    ClientFactory,
    RecordingPublisher,
    created,
    error_of,
    listener,
    route,
    service,
    store_state,
)

SECRET = "client-secret-never-shown-0123456789"
PATH = "/api/v1/oauth2-introspectors"


def introspector(name: str = "idp", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "introspection_url": "https://login.chaos.example/oauth2/introspect",
        "client_id": "chaosgw",
        "client_secret": SECRET,
        **fields,
    }


def token_auth(*introspectors: str) -> dict[str, Any]:
    credential = {"kind": "oauth2_introspection", "introspectors": list(introspectors)}
    return {"type": "authenticated", "credentials": [credential]}


@pytest.fixture
def declared(make_client: ClientFactory) -> TestClient:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    return client


def test_the_secret_is_stored_and_pushed_but_never_returned(
    declared: TestClient, database: Database, publisher: RecordingPublisher
) -> None:
    changes = publisher.calls
    body = created(declared, "oauth2-introspectors", introspector(audiences=["game"]))
    shown = [
        declared.get(PATH).text,
        declared.get(f"{PATH}/idp").text,
        declared.put(
            f"{PATH}/idp",
            json=introspector(audiences=["game"]),
            headers={"If-Match": body["metadata"]["etag"]},
        ).text,
    ]

    assert "client_secret" not in body
    assert body["claims"] == {"player_id": "sub", "roles": "scope", "tier": None}
    assert (body["max_cache_seconds"], body["negative_cache_seconds"]) == (300, 5)
    assert all(SECRET not in text and "client_secret" not in text for text in shown)
    assert publisher.calls > changes
    state, _ = store_state(database)
    (stored,) = state.oauth2_introspectors
    assert stored.client_secret.get_secret_value() == SECRET
    assert SECRET not in repr(stored)
    (pushed,) = introspector_resources(state)
    message = auth_pb2.OAuth2Introspector.FromString(pushed.payload)
    assert (message.client_secret, list(message.audiences), message.roles_claim) == (
        SECRET,
        ["game"],
        "scope",
    )


def test_an_unchanged_put_changes_nothing_and_a_new_secret_is_a_new_version(
    declared: TestClient, database: Database
) -> None:
    etag = created(declared, "oauth2-introspectors", introspector())["metadata"]["etag"]
    same = declared.put(f"{PATH}/idp", json=introspector(), headers={"If-Match": etag})
    rotated = declared.put(
        f"{PATH}/idp", json=introspector(client_secret="rotated"), headers={"If-Match": etag}
    )

    assert same.json()["metadata"]["version"] == 1
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["metadata"]["version"] == 2
    state, _ = store_state(database)
    assert state.oauth2_introspectors[0].client_secret.get_secret_value() == "rotated"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"introspection_url": "ftp://login.chaos.example/introspect"}, "introspection_url"),
        ({"client_secret": ""}, "client_secret"),
        ({"client_id": ""}, "client_id"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"max_cache_seconds": -1}, "max_cache_seconds"),
        ({"audiences": ["game", "game"]}, None),
        ({"required_scopes": ["has space"]}, "required_scopes[0]"),
        ({"claims": {"roles": ""}}, "claims.roles"),
        ({"name": "Not A Name"}, "name"),
    ],
)
def test_bad_introspectors_are_422_and_never_quote_the_secret(
    declared: TestClient, database: Database, fields: dict[str, Any], field: str | None
) -> None:
    before = store_state(database)
    response = declared.post(PATH, json=introspector(**fields))

    assert response.status_code == 422, response.text
    error = error_of(response)
    if field is not None:
        assert field in {detail["field"] for detail in error["details"]}, error
    assert SECRET not in response.text
    assert store_state(database) == before


def test_a_route_names_introspectors_that_exist_and_they_stay_while_it_does(
    declared: TestClient, database: Database
) -> None:
    missing = declared.post("/api/v1/routes", json=route(auth=token_auth("idp", "other")))
    assert missing.status_code == 422, missing.text
    assert [(d["field"], d["type"]) for d in error_of(missing)["details"]] == [
        ("auth.credentials[0].introspectors[0]", "unknown_oauth2_introspector"),
        ("auth.credentials[0].introspectors[1]", "unknown_oauth2_introspector"),
    ]

    created(declared, "oauth2-introspectors", introspector())
    created(declared, "oauth2-introspectors", introspector("other"))
    created(declared, "routes", route(auth=token_auth("other", "idp")))
    state, _ = store_state(database)
    (policy,) = (auth_pb2.RoutePolicy.FromString(r.payload) for r in route_policy_resources(state))
    assert list(policy.credentials) == [auth_pb2.RoutePolicy.OAUTH2_INTROSPECTION]
    assert list(policy.introspectors) == ["other", "idp"]

    in_use = declared.delete(f"{PATH}/idp")
    assert in_use.status_code == 409, in_use.text
    assert error_of(in_use)["details"][0]["resource"] == "/api/v1/routes/items"
    assert declared.delete("/api/v1/routes/items").status_code == 204
    assert declared.delete(f"{PATH}/idp").status_code == 204


@pytest.mark.parametrize(
    "credential",
    [
        {"kind": "oauth2_introspection"},
        {"kind": "oauth2_introspection", "introspectors": []},
        {"kind": "oauth2_introspection", "introspectors": ["idp", "idp"]},
    ],
)
def test_a_token_credential_names_its_introspectors_once_each(
    declared: TestClient, credential: dict[str, Any]
) -> None:
    created(declared, "oauth2-introspectors", introspector())
    auth = {"type": "authenticated", "credentials": [credential]}

    response = declared.post("/api/v1/routes", json=route(auth=auth))

    assert response.status_code == 422, response.text
