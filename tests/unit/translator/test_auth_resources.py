"""What the auth service is sent (API keys, route policies, JWT providers), which routes call it,
and API key routes without an auth service: closed to everybody, never open."""

import json
from dataclasses import replace
from datetime import UTC, datetime

from chaosgw.auth.v1 import auth_pb2
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2

from controlplane.model import StoredApiKey
from controlplane.translator import (
    api_key_resources,
    jwt_provider_resources,
    route_policy_resources,
    translate,
)
from controlplane.translator.auth_extauthz import EXTAUTHZ_FILTER
from controlplane.translator.auth_filters import JWT_FILTER, RBAC_FILTER
from tests.unit.translator.golden_state import BACKOFFICE, EXTAUTHZ, JWKS, RATELIMIT, golden_state

EXPIRES = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
KEYS = (
    StoredApiKey(name="acme", owner="Acme", roles=["admin"], tier="gold", key_hash="a" * 64),
    StoredApiKey(name="bolt", owner="Bolt", expires_at=EXPIRES, key_hash="b" * 64),
)


def test_each_key_is_sent_with_its_hash_and_terms() -> None:
    sent = api_key_resources(replace(golden_state(), api_keys=KEYS))

    assert [item.name for item in sent] == ["acme", "bolt"]
    acme, bolt = (auth_pb2.ApiKey.FromString(item.payload) for item in sent)
    assert (acme.id, acme.key_hash, list(acme.roles), acme.tier) == (
        "acme",
        "a" * 64,
        ["admin"],
        "gold",
    )
    assert not acme.HasField("expires_at")
    assert bolt.expires_at.ToDatetime(tzinfo=UTC) == EXPIRES


def test_a_route_policy_holds_the_role_sets_its_route_requires() -> None:
    sent = route_policy_resources(golden_state())

    assert [item.name for item in sent] == ["owned-inventory", "partner-orders"]
    policy = auth_pb2.RoutePolicy.FromString(sent[1].payload)
    assert list(policy.credentials) == [auth_pb2.RoutePolicy.API_KEY, auth_pb2.RoutePolicy.JWT]
    assert list(policy.jwt_providers) == ["partners"]
    assert not policy.HasField("owner")
    # roles_any_of, then the roles granting any of the permissions asked.
    assert [list(required.roles) for required in policy.required] == [
        ["admin"],
        ["gm", "player"],
    ]


def test_an_owner_rule_goes_to_the_service_with_its_template_as_a_regex() -> None:
    sent = route_policy_resources(golden_state())
    policy = auth_pb2.RoutePolicy.FromString(sent[0].payload)

    assert list(policy.credentials) == [auth_pb2.RoutePolicy.JWT]
    assert list(policy.jwt_providers) == ["players"]
    assert policy.owner.path_parameter == "player_id"
    assert policy.owner.path_regex == "/players/([^/]+)/inventory"
    assert list(policy.owner.unless_roles) == ["gm"]


def test_every_jwt_provider_is_sent_with_its_keys_claims_and_sources() -> None:
    state = golden_state()
    sent = jwt_provider_resources(state)

    assert [item.name for item in sent] == ["partners", "players"]
    partners, players = (auth_pb2.JwtProvider.FromString(item.payload) for item in sent)
    assert (
        partners.discovery_url == "https://partners.chaos.example/.well-known/openid-configuration"
    )
    assert (partners.jwks, partners.jwks_url) == (state.fetched_jwks["partners"], "")
    assert (partners.authorization_header, partners.query_parameter) == (False, "access_token")
    assert (partners.clock_skew_seconds, list(partners.algorithms)) == (10, ["PS256", "RS256"])
    assert (players.roles_claim, players.tier_claim, players.player_id_claim) == (
        "realm_access.roles",
        "tier",
        "sub",
    )
    assert list(players.cookies) == ["chaos_session"]
    assert (players.discovery_url, players.jwks_url, players.query_parameter) == ("", "", "")
    assert json.loads(players.jwks) == JWKS
    unfetched = jwt_provider_resources(replace(state, fetched_jwks={}))
    assert auth_pb2.JwtProvider.FromString(unfetched[0].payload).jwks == ""


def test_routes_the_service_checks_have_no_jwt_authn_and_call_the_service() -> None:
    routes = translate(golden_state(), RATELIMIT, EXTAUTHZ)[BACKOFFICE].decoded()["routes"]
    by_name = {r.name: r for config in routes for host in config.virtual_hosts for r in host.routes}

    for name in ("partner-orders", "owned-inventory"):
        assert set(by_name[name].typed_per_filter_config) == {EXTAUTHZ_FILTER}
    assert JWT_FILTER in by_name["admin-users"].typed_per_filter_config


def test_without_an_auth_service_an_api_key_route_lets_nobody_in() -> None:
    routes = translate(golden_state(), RATELIMIT)[BACKOFFICE].decoded()["routes"]
    route = next(
        r
        for config in routes
        for host in config.virtual_hosts
        for r in host.routes
        if r.name == "partner-orders"
    )

    assert EXTAUTHZ_FILTER not in route.typed_per_filter_config
    rbac = rbac_pb2.RBACPerRoute()
    route.typed_per_filter_config[RBAC_FILTER].Unpack(rbac)
    # A DENY policy named for its refusal: every caller is "not nobody".
    assert rbac.rbac.rules.action == rbac.rbac.rules.DENY
    principals = rbac.rbac.rules.policies["no_route_policy"].principals
    assert [p.not_id.not_id.any for p in principals] == [True]
