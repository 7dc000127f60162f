"""The owner rule ("the {player_id} in the path is the caller's, unless gm"), from the path
template the control plane compiles to a regex, through the servicer's whole check."""

import asyncio
import json

import pytest
from chaosgw.auth.v1 import auth_pb2
from envoy.service.auth.v3 import external_auth_pb2

from controlplane.model.auth_api_keys import key_hasher
from controlplane.model.path_templates import variable_regex
from extauthz.api_keys import ApiKeys, compile_keys
from extauthz.identity import API_KEY, JWT, Identity
from extauthz.jwt_providers import compile_providers
from extauthz.jwt_verifier import JwtVerifier
from extauthz.owner_rule import OwnerRule
from extauthz.policies import InvalidResources, RoutePolicies, compile_policies
from extauthz.servicer import AuthorizationServicer
from tests.support.jwt_issuer import SigningKey, claims_for

TEMPLATE = "/players/{player_id}/inventory/{item=*}"
KEY = SigningKey("k1")
ISSUER, AUDIENCE = "https://login.chaos.example", "chaos-world"
HASH = key_hasher(b"unit-test-secret-unit-test-secret-0123")


def rule(template: str = TEMPLATE, unless: tuple[str, ...] = ("gm",)) -> OwnerRule:
    return OwnerRule.compile("player_id", variable_regex(template, "player_id"), [*unless])


def player(player_id: str, *roles: str) -> Identity:
    return Identity(kind=JWT, player_id=player_id, roles=frozenset(roles))


@pytest.mark.parametrize(
    ("identity", "path", "allowed"),
    [
        (player("p-1"), "/players/p-1/inventory/sword", True),
        (player("p-1"), "/players/p-1/inventory/sword?page=2", True),
        (player("p-2"), "/players/p-1/inventory/sword", False),
        (player("p-2", "gm"), "/players/p-1/inventory/sword", True),
        (player("p-1"), "/players/p-1x/inventory/sword", False),
        (player("p-1"), "/players/p-1/inventory", False),  # the template does not match
        (player(""), "/players//inventory/sword", False),
        (Identity(kind=API_KEY, api_key_id="acme"), "/players/p-1/inventory/a", False),
    ],
)
def test_the_path_parameter_must_be_the_callers_own(
    identity: Identity, path: str, allowed: bool
) -> None:
    assert rule().allows(identity, path) is allowed


def test_templates_compile_to_regexes_capturing_the_variable() -> None:
    assert variable_regex(TEMPLATE, "player_id") == "/players/([^/]+)/inventory/[^/]+"
    assert variable_regex("/a/{rest=**}/{player_id}", "rest") == "/a/(.*)/[^/]+"
    assert variable_regex("/g/{guild=guilds/*}/{player_id}", "guild") == "/g/(guilds/[^/]+)/[^/]+"
    assert variable_regex("/v1.0/x+y/{player_id}", "player_id") == r"/v1\.0/x\+y/([^/]+)"
    owner = rule("/a/{player_id}/**")
    assert owner.allows(player("p"), "/a/p/b/c")
    assert not owner.allows(player("q"), "/a/p/b")
    # Every literal character Envoy's templates allow is a literal in RE2 too.
    odd = "/a-b_c~d!e$f&g'h(i)j+k,l;m:n@o=p/{player_id}"
    assert rule(odd).allows(player("p"), odd.replace("{player_id}", "p"))


@pytest.mark.parametrize("regex", ["/players/[^/]+", "/players/(unclosed"])
def test_a_rule_without_a_usable_regex_is_refused(regex: str) -> None:
    message = auth_pb2.RoutePolicy(route="r", credentials=[auth_pb2.RoutePolicy.API_KEY])
    message.owner.CopyFrom(auth_pb2.OwnerRule(path_parameter="player_id", path_regex=regex))
    with pytest.raises(InvalidResources):
        compile_policies([message])


def servicer() -> AuthorizationServicer:
    """A route `GET /players/{player_id}/inventory/{item}` taking a JWT or an API key."""
    policy = auth_pb2.RoutePolicy(
        route="inventory",
        credentials=[auth_pb2.RoutePolicy.JWT, auth_pb2.RoutePolicy.API_KEY],
        jwt_providers=["idp"],
        owner=auth_pb2.OwnerRule(
            path_parameter="player_id",
            path_regex=variable_regex(TEMPLATE, "player_id"),
            unless_roles=["gm"],
        ),
    )
    policies = RoutePolicies()
    policies.replace(compile_policies([policy]))
    tokens = JwtVerifier()
    tokens.replace(
        compile_providers(
            [
                auth_pb2.JwtProvider(
                    name="idp",
                    issuer=ISSUER,
                    audiences=[AUDIENCE],
                    algorithms=["RS256"],
                    roles_claim="roles",
                    authorization_header=True,
                    jwks=json.dumps({"keys": [KEY.jwk()]}),
                )
            ]
        )
    )
    keys = ApiKeys(HASH)
    keys.replace(compile_keys([auth_pb2.ApiKey(id="ops", key_hash=HASH("cgw_ops"), roles=["gm"])]))
    return AuthorizationServicer(policies, {JWT: tokens, API_KEY: keys}, tokens.locate)


def decide(service: AuthorizationServicer, path: str, **headers: str) -> tuple[int, str]:
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["route"] = "inventory"
    request.attributes.request.http.path = path
    request.attributes.request.http.headers.update(headers)
    answer = external_auth_pb2.CheckResponse.FromString(asyncio.run(service.decide(request)))
    if answer.HasField("ok_response"):
        seen = {h.header.key: h.header.value for h in answer.ok_response.headers}
        return 200, seen.get("x-chaosgw-player-id", seen.get("x-chaosgw-api-key-id", ""))
    return answer.denied_response.status.code, json.loads(answer.denied_response.body)["error"][
        "code"
    ]


def test_owners_gms_and_keys_through_the_whole_check() -> None:
    service = servicer()

    def bearer(subject: str, *roles: str) -> str:
        claims = claims_for(ISSUER, AUDIENCE, subject, roles=[*roles])
        return "Bearer " + KEY.sign(claims)

    path = "/players/p-1/inventory/sword"
    assert decide(service, path, authorization=bearer("p-1", "player")) == (200, "p-1")
    assert decide(service, path, authorization=bearer("p-2", "player")) == (403, "not_owner")
    assert decide(service, path, authorization=bearer("p-9", "gm")) == (200, "p-9")
    assert decide(service, path, **{"x-api-key": "cgw_ops"}) == (200, "ops")
    assert decide(service, path, **{"x-api-key": "cgw_nope"}) == (401, "unknown_key")
    assert decide(service, path) == (401, "missing_credential")
