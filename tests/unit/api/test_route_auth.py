"""/api/v1/jwt-providers, /api/v1/roles and routes' `auth`: bad input is a clear 422 (or 409)
and changes nothing, before anything reaches Envoy."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from controlplane.store import Database
from tests.support.jwt_issuer import JwksServer, SigningKey
from tests.unit.api.conftest import (
    ClientFactory,
    created,
    error_of,
    listener,
    route,
    service,
    store_state,
)

JWKS = {"keys": [SigningKey("k1").jwk()]}


def provider(name: str = "idp", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "issuer": "https://login.chaos.example",
        "audiences": ["chaos-world"],
        "algorithms": ["RS256"],
        "jwks": {"type": "inline", "document": JWKS},
        **fields,
    }


def jwt_auth(*providers: str, **terms: Any) -> dict[str, Any]:
    credentials = [{"kind": "jwt", "providers": list(providers)}]
    return {"type": "authenticated", "credentials": credentials, **terms}


@pytest.fixture
def declared(client: TestClient) -> TestClient:
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    created(client, "roles", {"name": "gm", "permissions": ["players.moderate"]})
    return client


def test_a_protected_route_is_stored_with_what_it_requires(declared: TestClient) -> None:
    auth = jwt_auth("idp", roles_any_of=["gm"], permissions_all_of=["players.moderate"])
    created(declared, "routes", route(auth=auth))

    assert declared.get("/api/v1/routes/items").json()["auth"] == {
        **auth,
        "permissions_any_of": [],
    }
    assert declared.get("/api/v1/routes").json()["items"][0]["name"] == "items"


@pytest.mark.parametrize(
    ("jwks", "message"),
    [
        ({"keys": []}, "the JWKS has no keys"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "key type 'oct' is not one of"),
        ({"keys": [{**JWKS["keys"][0], "n": "AQAB"}]}, "shorter than 2048 bits"),
        ({"keys": [{"kty": "EC", "crv": "P-256", "x": "AQ"}]}, "member 'y'"),
        ({"keys": [{**JWKS["keys"][0], "alg": "ES256"}]}, "cannot be used with a RSA key"),
        ({"nokeys": 1}, 'a JSON object with a "keys" array'),
    ],
)
def test_a_bad_inline_jwks_is_422_saying_why(
    client: TestClient, database: Database, jwks: dict[str, Any], message: str
) -> None:
    before = store_state(database)
    response = client.post(
        "/api/v1/jwt-providers", json=provider(jwks={"type": "inline", "document": jwks})
    )

    assert response.status_code == 422, response.text
    assert message in error_of(response)["details"][0]["message"]
    assert store_state(database) == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"algorithms": ["HS256"]}, "algorithms[0]"),
        ({"algorithms": ["none"]}, "algorithms[0]"),
        ({"algorithms": []}, "algorithms"),
        ({"audiences": []}, "audiences"),
        ({"token_sources": {"authorization_header": False}}, "token_sources"),
        ({"token_sources": {"query_parameter": "a b"}}, "token_sources.query_parameter"),
        ({"claims": {"roles": "realm..roles"}}, "claims.roles"),
        ({"jwks": {"type": "remote"}}, "jwks.remote"),
        ({"jwks": {"type": "remote", "oidc_discovery": True}, "issuer": "idp"}, "body"),
    ],
)
def test_bad_provider_settings_are_422(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/jwt-providers", json=provider(**fields))

    assert response.status_code == 422, response.text
    assert field in {d.get("field", "body") for d in error_of(response)["details"]}


def test_a_remote_jwks_is_fetched_first_and_refused_when_unusable(
    client: TestClient, database: Database
) -> None:
    key = SigningKey("k1")
    with JwksServer(key).running() as idp:
        discovered = provider(issuer=idp.issuer, jwks={"type": "remote", "oidc_discovery": True})
        created(client, "jwt-providers", discovered)
        assert idp.fetches == 1
        before = store_state(database)
        idp.keys = []
        response = client.post(
            "/api/v1/jwt-providers",
            json=provider("empty", jwks={"type": "remote", "uri": idp.jwks_url}),
        )
        missing = client.post(
            "/api/v1/jwt-providers",
            json=provider("gone", jwks={"type": "remote", "uri": idp.issuer + "/nope"}),
        )

    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["type"] == "jwks_unavailable"
    assert "does not serve a usable JWKS: the JWKS has no keys" in error_of(response)["message"]
    assert missing.status_code == 422
    assert "answered HTTP 404" in error_of(missing)["message"]
    assert store_state(database) == before


def test_a_route_naming_unknown_providers_and_roles_is_422_naming_each(
    declared: TestClient, database: Database
) -> None:
    before = store_state(database)
    response = declared.post(
        "/api/v1/routes", json=route(auth=jwt_auth("idp", "nope", roles_any_of=["gm", "king"]))
    )

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_reference"
    assert [(d["field"], d["type"]) for d in error["details"]] == [
        ("auth.credentials[0].providers[1]", "unknown_jwt_provider"),
        ("auth.roles_any_of[1]", "unknown_role"),
    ]
    assert store_state(database) == before


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("api_key", "none is configured (CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)"),
        ("session", "none is configured (CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)"),
        ("oauth2_introspection", "not checked by the gateway yet"),
    ],
)
def test_a_route_needing_what_the_gateway_cannot_check_is_refused(
    declared: TestClient, database: Database, kind: str, message: str
) -> None:
    before = store_state(database)
    auth = {"type": "authenticated", "credentials": [{"kind": kind}]}
    response = declared.post("/api/v1/routes", json=route(auth=auth))

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "not_available"
    assert message in error["message"]
    assert error["details"][0]["field"] == "auth.credentials[0].kind"
    assert store_state(database) == before


def test_api_key_routes_need_the_auth_service_and_no_jwt_beside(
    make_client: ClientFactory, database: Database
) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    api_key = {"type": "authenticated", "credentials": [{"kind": "api_key"}]}
    created(client, "routes", route(auth=api_key))
    before = store_state(database)
    both = {**api_key, "credentials": [{"kind": "api_key"}, *jwt_auth("idp")["credentials"]]}
    response = client.post("/api/v1/routes", json=route("mixed", auth=both))

    assert response.status_code == 422, response.text
    assert "cannot be accepted by one route yet" in error_of(response)["message"]
    assert store_state(database) == before


def test_providers_and_roles_routes_rely_on_cannot_be_deleted(declared: TestClient) -> None:
    created(declared, "routes", route(auth=jwt_auth("idp", roles_any_of=["gm"])))

    for kind, name in (("jwt-providers", "idp"), ("roles", "gm")):
        response = declared.delete(f"/api/v1/{kind}/{name}")
        assert response.status_code == 409, response.text
        assert error_of(response)["details"][0]["resource"] == "/api/v1/routes/items"

    etag = declared.get("/api/v1/routes/items").headers["etag"]
    public = declared.put("/api/v1/routes/items", json=route(), headers={"If-Match": etag})
    assert public.status_code == 200, public.text
    assert declared.delete("/api/v1/roles/gm").status_code == 204
    assert declared.delete("/api/v1/jwt-providers/idp").status_code == 204
