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
        "owner": None,
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
    "credential",
    [
        {"kind": "api_key"},
        {"kind": "session"},
        {"kind": "oauth2_introspection", "introspectors": ["idp"]},
    ],
)
def test_a_route_needing_the_auth_service_is_refused_without_one(
    declared: TestClient, database: Database, credential: dict[str, Any]
) -> None:
    before = store_state(database)
    auth = {"type": "authenticated", "credentials": [credential]}
    response = declared.post("/api/v1/routes", json=route(auth=auth))

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "not_available"
    assert "none is configured (CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)" in error["message"]
    assert error["details"][0]["field"] == "auth.credentials[0].kind"
    assert store_state(database) == before


def test_a_route_may_accept_jwts_or_api_keys_through_the_auth_service(
    make_client: ClientFactory,
) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    both = {
        "type": "authenticated",
        "credentials": [{"kind": "api_key"}, *jwt_auth("idp")["credentials"]],
    }
    created(client, "routes", route("mixed", auth=both))

    assert client.get("/api/v1/routes/mixed").json()["auth"]["credentials"][0] == {
        "kind": "api_key"
    }


def owned(template: str, parameter: str = "player_id") -> dict[str, Any]:
    auth = jwt_auth("idp", owner={"path_parameter": parameter, "unless_roles": ["gm"]})
    spec = route("owned", auth=auth)
    spec["match"] = {"path": {"type": "template", "value": template}}
    return spec


def test_an_owner_rule_is_stored_on_a_template_route(make_client: ClientFactory) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    created(client, "roles", {"name": "gm", "permissions": []})
    created(client, "routes", owned("/players/{player_id}/inventory"))

    assert client.get("/api/v1/routes/owned").json()["auth"]["owner"] == {
        "path_parameter": "player_id",
        "unless_roles": ["gm"],
    }


@pytest.mark.parametrize(
    "spec",
    [
        owned("/players/{id}/inventory"),
        owned("/players/{player_id}", parameter="guild_id"),
        {**owned("/x/{player_id}"), "match": {"path": {"type": "prefix", "value": "/players"}}},
    ],
)
def test_an_owner_rule_naming_no_template_variable_is_422(
    make_client: ClientFactory, database: Database, spec: dict[str, Any]
) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    before = store_state(database)
    response = client.post("/api/v1/routes", json=spec)

    assert response.status_code == 422, response.text
    assert "must be a variable of the route's path template" in str(response.json())
    assert store_state(database) == before


def test_an_owner_rule_names_existing_roles_which_then_cannot_be_deleted(
    make_client: ClientFactory, database: Database
) -> None:
    client = make_client(extauthz_endpoints=("127.0.0.1:18300",))
    created(client, "listeners", listener())
    created(client, "services", service("inventory"))
    created(client, "jwt-providers", provider())
    spec = owned("/players/{player_id}")
    before = store_state(database)
    unknown = client.post("/api/v1/routes", json=spec)
    assert unknown.status_code == 422, unknown.text
    assert error_of(unknown)["details"][0]["field"] == "auth.owner.unless_roles[0]"
    assert store_state(database) == before

    created(client, "roles", {"name": "gm", "permissions": []})
    created(client, "routes", spec)
    assert client.delete("/api/v1/roles/gm").status_code == 409


def test_an_owner_rule_needs_the_auth_service(declared: TestClient) -> None:
    response = declared.post("/api/v1/routes", json=owned("/players/{player_id}"))

    assert response.status_code == 422, response.text
    assert error_of(response)["details"][0]["field"] == "auth.owner"


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
