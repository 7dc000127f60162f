"""The auth service's decisions from what Envoy sends, and the sets it refuses (NACKs) whole."""

import asyncio
from datetime import UTC, datetime

import pytest
from chaosgw.auth.v1 import auth_pb2
from envoy.service.auth.v3 import external_auth_pb2

from controlplane.model.auth_api_keys import key_hasher
from extauthz.api_keys import ApiKeys, compile_keys
from extauthz.identity import API_KEY as KIND_API_KEY
from extauthz.policies import InvalidResources, RoutePolicies, compile_policies
from extauthz.servicer import AuthorizationServicer

SECRET = b"unit-test-secret-unit-test-secret-0123"
HASH = key_hasher(SECRET)
API_KEY = auth_pb2.RoutePolicy.API_KEY


def servicer(*keys: auth_pb2.ApiKey) -> AuthorizationServicer:
    api_keys = ApiKeys(HASH)
    api_keys.replace(compile_keys(keys))
    policies = RoutePolicies()
    policies.replace(
        compile_policies(
            [
                auth_pb2.RoutePolicy(route="open", credentials=[API_KEY]),
                auth_pb2.RoutePolicy(
                    route="gm-only",
                    credentials=[API_KEY],
                    required=[auth_pb2.RoleSet(roles=["gm", "admin"])],
                ),
            ]
        )
    )
    return AuthorizationServicer(policies, {KIND_API_KEY: api_keys})


def check(route: str, **headers: str) -> external_auth_pb2.CheckRequest:
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["route"] = route
    request.attributes.request.http.headers.update(headers)
    return request


def decide(
    service: AuthorizationServicer, request: external_auth_pb2.CheckRequest
) -> tuple[int, str]:
    answer = external_auth_pb2.CheckResponse.FromString(asyncio.run(service.decide(request)))
    if answer.HasField("ok_response"):
        return 200, {h.header.key: h.header.value for h in answer.ok_response.headers}[
            "x-chaosgw-api-key-id"
        ]
    return answer.denied_response.status.code, answer.denied_response.body


def key(name: str, secret: str, **fields: object) -> auth_pb2.ApiKey:
    return auth_pb2.ApiKey(id=name, key_hash=HASH(secret), **fields)  # type: ignore[arg-type]


def test_keys_are_checked_against_the_routes_policy() -> None:
    expired = key("old", "cgw_old")
    expired.expires_at.FromDatetime(datetime(2020, 1, 1, tzinfo=UTC))
    service = servicer(key("acme", "cgw_acme", roles=["gm"]), key("bolt", "cgw_bolt"), expired)

    assert decide(service, check("gm-only", **{"x-api-key": "cgw_acme"})) == (200, "acme")
    assert decide(service, check("open", authorization="ApiKey cgw_bolt")) == (200, "bolt")
    cases = {
        ("gm-only", "cgw_bolt"): (403, "missing_role"),
        ("open", "cgw_nope"): (401, "unknown_key"),
        ("open", "cgw_old"): (401, "expired_key"),
        ("nowhere", "cgw_acme"): (403, "no_route_policy"),
    }
    for (route, secret), (status, code) in cases.items():
        answered, body = decide(service, check(route, **{"x-api-key": secret}))
        assert (answered, code) == (status, code)
        assert f'"code": "{code}"' in str(body)
        assert secret not in str(body)
    assert decide(service, check("open"))[0] == 401
    assert decide(service, check("open", authorization="Bearer cgw_bolt"))[0] == 401


@pytest.mark.parametrize(
    "keys",
    [
        [key("a", "x"), key("a", "y")],
        [key("a", "x"), key("b", "x")],
        [auth_pb2.ApiKey(id="a", key_hash="not-hex")],
        [auth_pb2.ApiKey(key_hash="0" * 64)],
    ],
)
def test_a_bad_key_set_is_refused_whole(keys: list[auth_pb2.ApiKey]) -> None:
    with pytest.raises(InvalidResources):
        compile_keys(keys)


@pytest.mark.parametrize(
    "policies",
    [
        [auth_pb2.RoutePolicy(route="a", credentials=[API_KEY])] * 2,
        [auth_pb2.RoutePolicy(route="a")],
        [auth_pb2.RoutePolicy(route="a", credentials=[99])],  # type: ignore[list-item]
    ],
)
def test_a_bad_route_policy_set_is_refused_whole(policies: list[auth_pb2.RoutePolicy]) -> None:
    with pytest.raises(InvalidResources):
        compile_policies(policies)


def test_a_401_names_the_schemes_the_route_accepts() -> None:
    answer = external_auth_pb2.CheckResponse.FromString(
        asyncio.run(servicer().decide(check("open")))
    )
    headers = {h.header.key: h.header.value for h in answer.denied_response.headers}
    assert headers["www-authenticate"] == 'ApiKey realm="chaosgw"'
