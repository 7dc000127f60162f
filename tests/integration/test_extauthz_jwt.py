"""JWTs where Envoy cannot decide alone, end to end: a realistic route table whose JWT-and-role
routes Envoy checks natively (`jwt_authn` + `rbac`) and whose other routes (an owner rule, API
keys, JWT-or-API-key) go to real `extauthz` processes, which verify the JWTs themselves.

One control plane, one Envoy, two auth service processes and one identity provider (a JWKS
server whose keys the rotation test changes) for the module."""

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from authcontract import denials
from tests.integration.auth_gateway import AuthGateway, OnAuthGateway, auth_gateway, seen_upstream
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import AdminClient, wait_for_response
from tests.support.jwt_issuer import JwksServer, SigningKey, claims_for, tampered

pytestmark = pytest.mark.integration

PROCESSES = 2
UPSTREAM = "game"
AUDIENCE = "chaos-world"
COOKIE = "chaos_token"
ROLES = {
    "player": ["inventory.read"],
    "gm": ["inventory.read", "players.kick"],
    "admin": ["inventory.read", "players.ban"],
    "partner": ["orders.read"],
}
JWT = {"kind": "jwt", "providers": ["idp"]}
API_KEY = {"kind": "api_key"}
# name -> (path match, credentials, terms). Envoy alone checks "gm", "admin" and "me" (JWTs and
# roles); the service checks the others (an owner rule, API keys).
ROUTES: dict[str, tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]] = {
    "inventory": (
        {"type": "template", "value": "/players/{player_id}/inventory"},
        [JWT],
        {
            "permissions_any_of": ["inventory.read"],
            "owner": {"path_parameter": "player_id", "unless_roles": ["gm"]},
        },
    ),
    "gm": ({"type": "prefix", "value": "/gm/"}, [JWT], {"roles_any_of": ["gm"]}),
    "admin": (
        {"type": "prefix", "value": "/admin/"},
        [JWT],
        {"permissions_any_of": ["players.ban"]},
    ),
    "partners": (
        {"type": "prefix", "value": "/partners/"},
        [API_KEY],
        {"roles_any_of": ["partner"]},
    ),
    "me": ({"type": "exact", "value": "/me"}, [JWT], {}),
    "svc-gm": ({"type": "prefix", "value": "/svc/gm/"}, [JWT, API_KEY], {"roles_any_of": ["gm"]}),
    "svc-me": ({"type": "exact", "value": "/svc/me"}, [JWT, API_KEY], {}),
}
CALLERS = ("player-a", "player-b", "gm", "admin", "partner-key", "nobody")
# (method, path) -> the status of each caller, in CALLERS' order.
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/players/p-a/inventory"): (200, 403, 200, 403, 401, 401),
    ("GET", "/players/p-b/inventory"): (403, 200, 200, 403, 401, 401),
    ("POST", "/gm/kick"): (403, 403, 200, 403, 401, 401),
    ("GET", "/admin/bans"): (403, 403, 403, 200, 401, 401),
    ("GET", "/partners/orders"): (401, 401, 401, 401, 200, 401),
    ("GET", "/me"): (200, 200, 200, 200, 401, 401),
    ("POST", "/svc/gm/kick"): (403, 403, 200, 403, 403, 401),
    ("GET", "/svc/me"): (200, 200, 200, 200, 200, 401),
}
SUBJECTS = {"player-a": "p-a", "player-b": "p-b", "gm": "g-1", "admin": "ad-1"}
CALLER_ROLES = {"player-a": "player", "player-b": "player", "gm": "gm", "admin": "admin"}


@dataclass
class Gateway(OnAuthGateway):
    auth: AuthGateway
    idp: JwksServer
    key: SigningKey
    partner_key: str

    def token(self, subject: str, *roles: str, key: SigningKey | None = None) -> str:
        claims = claims_for(self.idp.issuer, AUDIENCE, subject, roles=[*roles])
        return (key or self.key).sign(claims)

    def call(self, method: str, path: str, caller: str, **headers: str) -> httpx.Response:
        if caller == "partner-key":
            headers["x-api-key"] = self.partner_key
        elif caller in SUBJECTS:
            token = self.token(SUBJECTS[caller], CALLER_ROLES[caller])
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url(path), headers=headers, timeout=2.0)


def _declare(admin: AdminClient, idp: JwksServer, made: dict[str, str]) -> None:
    for role, permissions in ROLES.items():
        admin.create("roles", {"name": role, "permissions": permissions})
    admin.create(
        "jwt-providers",
        {
            "name": "idp",
            "issuer": idp.issuer,
            "audiences": [AUDIENCE],
            "algorithms": ["RS256"],
            # The control plane refreshes rarely: a rotation reaching the service sooner is the
            # service's own refetch.
            "jwks": {"type": "remote", "uri": idp.jwks_url, "refresh_seconds": 3600},
            "token_sources": {"cookies": [COOKIE]},
        },
    )
    for name, (path, credentials, terms) in ROUTES.items():
        admin.create("routes", _route(name, path, credentials, **terms))
    admin.create(
        "routes",
        {
            "name": "open",
            "listener": "public",
            "match": {"path": {"type": "prefix", "value": "/open/"}},
            "action": {"type": "forward", "backends": [{"service": UPSTREAM}]},
        },
    )
    # Made with the routes, so the readiness waits cover it too.
    made["partner_key"] = admin.create(
        "api-keys", {"name": "acme", "owner": "Acme", "roles": ["partner"]}
    )["key"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("extauthz-jwt")
    key = SigningKey("k1")
    made: dict[str, str] = {}
    with (
        JwksServer(key).running() as idp,
        auth_gateway(
            tmp,
            processes=PROCESSES,
            declare=lambda admin: _declare(admin, idp, made),
            upstreams=[UPSTREAM],
        ) as auth,
    ):
        gateway = Gateway(auth, idp, key, made["partner_key"])
        # Every route is served, by both auth processes (checks alternate).
        for _ in range(2 * PROCESSES):
            wait_for_response(
                auth.http,
                auth.url("/svc/me"),
                headers={"authorization": f"Bearer {gateway.token('p-a')}"},
                alive=[auth.extauthz, auth.envoy.process],
            )
            wait_for_response(
                auth.http,
                auth.url("/me"),
                headers={"authorization": f"Bearer {gateway.token('p-a')}"},
                alive=[auth.envoy.process],
            )
        yield gateway


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, gateway: Gateway) -> None:
    request.node.stash[_PROCESSES] = gateway.plane.processes


def _route(
    name: str, path: dict[str, str], credentials: list[dict[str, Any]], **terms: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "listener": "public",
        "match": {"path": path},
        "action": {"type": "forward", "backends": [{"service": UPSTREAM}]},
        "auth": {"type": "authenticated", "credentials": credentials, **terms},
    }


def _code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_the_rbac_matrix_holds_in_every_cell(gateway: Gateway) -> None:
    wrong = []
    for (method, path), statuses in MATRIX.items():
        for caller, status in zip(CALLERS, statuses, strict=True):
            response = gateway.call(method, path, caller)
            if response.status_code != status:
                wrong.append(f"{caller} {method} {path}: {response.status_code}, not {status}")
            elif status == 200 and caller in SUBJECTS:
                # The verified caller reaches the upstream, whichever part checked the token.
                assert seen_upstream(response)["x-chaosgw-player-id"] == SUBJECTS[caller]
            elif status == 401:
                assert "www-authenticate" in response.headers
            if status != 200:
                # Refused by Envoy (`jwt_authn`, `rbac`) or by the service, the answer is the
                # same: one body shape and code for the same refusal.
                code = _code(response)
                if caller == "nobody":
                    assert code == "missing_credential", (path, response.text)
                    assert 'realm="chaosgw"' in response.headers["www-authenticate"]
                elif status == 403:
                    assert code in {"missing_role", "not_owner"}, (caller, path, code)
                assert response.json() == json.loads(denials.body(code))
    assert not wrong, "\n".join(wrong)


def test_the_owner_rule_answers_its_own_reason(gateway: Gateway) -> None:
    refused = gateway.call("GET", "/players/p-a/inventory", "player-b")

    assert refused.status_code == 403
    assert _code(refused) == "not_owner"


def test_a_route_taking_a_jwt_or_an_api_key_admits_each_and_refuses_neither_or_forged(
    gateway: Gateway,
) -> None:
    token = gateway.token("p-a", '["player"]')
    by_token = gateway.http.get(
        gateway.url("/svc/me"), headers={"authorization": f"Bearer {token}"}
    )
    by_key = gateway.call("GET", "/svc/me", "partner-key")
    by_cookie = gateway.http.get(
        gateway.url("/svc/me"), headers={"cookie": f"theme=dark; {COOKIE}={token}"}
    )

    assert by_token.status_code == 200, by_token.text
    assert "authorization" not in seen_upstream(by_token)
    assert by_key.status_code == 200, by_key.text
    assert seen_upstream(by_key)["x-chaosgw-api-key-id"] == "acme"
    assert by_cookie.status_code == 200, by_cookie.text
    assert seen_upstream(by_cookie)["x-chaosgw-player-id"] == "p-a"
    evil = SigningKey("k1").sign(claims_for("https://evil.example", AUDIENCE, "p-a"))
    refusals = {
        "neither": ({}, "missing_credential"),
        "forged token": (
            {"authorization": f"Bearer {tampered(token, sub='p-b')}"},
            "token_bad_signature",
        ),
        "forged key": ({"x-api-key": gateway.partner_key[:-2] + "xx"}, "unknown_key"),
        "other issuer": (
            {"authorization": f"Bearer {evil}"},
            "token_issuer_not_accepted",
        ),
    }
    for what, (headers, code) in refusals.items():
        response = gateway.http.get(gateway.url("/svc/me"), headers=headers)
        assert response.status_code == 401, what
        assert _code(response) == code, what
        assert (
            response.headers["www-authenticate"] == 'Bearer realm="chaosgw", ApiKey realm="chaosgw"'
        )
    # The provider reads no token from the query string: one there is no credential.
    in_query = gateway.http.get(gateway.url(f"/svc/me?access_token={token}"))
    assert in_query.status_code == 401
    assert _code(in_query) == "missing_credential"


def test_a_token_in_the_query_string_is_taken_only_where_allowed_and_not_passed_on(
    gateway: Gateway,
) -> None:
    key = SigningKey("links-1")
    with JwksServer(key).running() as links:
        admin = gateway.plane.admin
        admin.create(
            "jwt-providers",
            {
                "name": "links",
                "issuer": links.issuer,
                "audiences": [AUDIENCE],
                "algorithms": ["RS256"],
                "jwks": {"type": "inline", "document": {"keys": [key.jwk()]}},
                "token_sources": {"authorization_header": False, "query_parameter": "access_token"},
            },
        )
        credentials: list[dict[str, Any]] = [
            {"kind": "jwt", "providers": ["links", "idp"]},
            API_KEY,
        ]
        admin.create("routes", _route("links", {"type": "prefix", "value": "/links/"}, credentials))
        token = key.sign(claims_for(links.issuer, AUDIENCE, "p-l", roles=["player"]))
        admitted = wait_for_response(
            gateway.http,
            gateway.url(f"/links/share?x=1&access_token={token}"),
            alive=[gateway.extauthz],
        )
        in_header = gateway.http.get(
            gateway.url("/links/share"), headers={"authorization": f"Bearer {token}"}
        )
        idp_in_query = gateway.http.get(
            gateway.url(f"/links/share?access_token={gateway.token('p-a', 'player')}")
        )

    assert admitted.json()["query"] == "x=1"
    assert seen_upstream(admitted)["x-chaosgw-player-id"] == "p-l"
    assert in_header.status_code == 401
    assert _code(in_header) == "token_source_not_allowed"
    # The other provider of the route reads no query parameter.
    assert idp_in_query.status_code == 401
    assert _code(idp_in_query) == "token_source_not_allowed"


def test_client_sent_identity_headers_never_reach_the_upstream_through_the_service(
    gateway: Gateway,
) -> None:
    forged = {
        "x-chaosgw-player-id": "p-b",
        "x-chaosgw-roles": "gm,admin",
        "x-chaosgw-tier": "platinum",
        "x-chaosgw-api-key-id": "someone",
    }
    as_player = gateway.call("GET", "/players/p-a/inventory", "player-a", **forged)
    as_key = gateway.call("GET", "/svc/me", "partner-key", **forged)
    # Forged roles do not open the gm route either.
    forged_gm = gateway.call("POST", "/svc/gm/kick", "player-a", **forged)

    assert as_player.status_code == 200, as_player.text
    seen = seen_upstream(as_player)
    assert (seen["x-chaosgw-player-id"], seen["x-chaosgw-roles"]) == ("p-a", '["player"]')
    assert not {"x-chaosgw-tier", "x-chaosgw-api-key-id"} & seen.keys()
    assert as_key.status_code == 200, as_key.text
    seen = seen_upstream(as_key)
    assert (seen["x-chaosgw-api-key-id"], seen["x-chaosgw-roles"]) == ("acme", '["partner"]')
    assert not {"x-chaosgw-player-id", "x-chaosgw-tier"} & seen.keys()
    assert forged_gm.status_code == 403


IDENTITY_FIELDS = ("player_id", "roles", "tier", "api_key_id", "session_id")
# One request per spelling, on each kind of route: (caller, path) -> the player id upstream.
UNDERSCORE_ROUTES = {
    ("nobody", "/open/news"): None,  # public
    ("player-a", "/me"): "p-a",  # Envoy's jwt_authn and rbac
    ("partner-key", "/partners/orders"): None,  # the service, an API key
    ("player-a", "/players/p-a/inventory"): "p-a",  # the service, an owner rule
}


def _underscored(spell: Any) -> dict[str, str]:
    return {spell(f"x_chaosgw_{field}"): "p-admin" for field in IDENTITY_FIELDS}


@pytest.mark.parametrize(
    "spell",
    [str.lower, str.upper, lambda name: name.title().replace("Chaosgw", "ChaosGW")],
    ids=["lower", "upper", "mixed"],
)
def test_underscore_spellings_of_identity_headers_never_reach_the_upstream(
    gateway: Gateway, spell: Any
) -> None:
    """A CGI/WSGI/PHP backend reads `x_chaosgw_player_id` as `x-chaosgw-player-id`: Envoy drops
    every header with an underscore, on every kind of route, and counts it."""
    forged = _underscored(spell)
    dropped = gateway.envoy.stat("http1.dropped_headers_with_underscores")
    for (caller, path), player in UNDERSCORE_ROUTES.items():
        response = gateway.call("GET", path, caller, **forged)
        seen = {name.lower(): value for name, value in seen_upstream(response).items()}
        assert not [name for name in seen if "_" in name], (path, seen)
        assert "p-admin" not in seen.values(), (path, seen)
        assert seen.get("x-chaosgw-player-id") == player, path
    assert gateway.envoy.stat("http1.dropped_headers_with_underscores") - dropped == len(
        UNDERSCORE_ROUTES
    ) * len(IDENTITY_FIELDS)


# The body, then a line with the HTTP version and status.
CURL_H2C = (
    *("curl", "--silent", "--show-error", "--http2-prior-knowledge", "--max-time", "5"),
    *("--write-out", "\\n%{http_version} %{http_code}"),
)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (HTTP/2 prior knowledge)")
def test_underscore_identity_headers_are_dropped_over_http2_too(gateway: Gateway) -> None:
    """The same over HTTP/2 (h2c, sent by curl, which lowercases names as HTTP/2 requires)."""
    forged = [arg for name in _underscored(str.lower) for arg in ("--header", f"{name}: p-admin")]
    dropped = gateway.envoy.stat("http2.dropped_headers_with_underscores")
    for (caller, path), player in UNDERSCORE_ROUTES.items():
        credential: list[str] = []
        if caller == "partner-key":
            credential = ["--header", f"x-api-key: {gateway.partner_key}"]
        elif caller in SUBJECTS:
            token = gateway.token(SUBJECTS[caller], CALLER_ROLES[caller])
            credential = ["--header", f"authorization: Bearer {token}"]
        answer = subprocess.run(
            [*CURL_H2C, *forged, *credential, gateway.url(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        body, _, status = answer.rpartition("\n")
        assert status == "2 200", (path, answer)
        seen = {name.lower(): value for name, value in json.loads(body)["headers"].items()}
        assert not [name for name in seen if "_" in name], (path, seen)
        assert seen.get("x-chaosgw-player-id") == player, path
    assert gateway.envoy.stat("http2.dropped_headers_with_underscores") - dropped == len(
        UNDERSCORE_ROUTES
    ) * len(IDENTITY_FIELDS)


@pytest.mark.parametrize(
    "roles",
    [["player"], ["admin", "gm", "player"], [], None],
    ids=["one", "several", "none", "no-claim"],
)
def test_roles_reach_the_upstream_in_one_format_whoever_decided(
    gateway: Gateway, roles: list[str] | None
) -> None:
    """`/me` is decided by Envoy (`jwt_authn`), `/svc/me` by the auth service: the upstream
    reads the same compact JSON array from both, `[]` when the token names no roles."""
    claims = claims_for(gateway.idp.issuer, AUDIENCE, "p-r")
    if roles is not None:
        claims["roles"] = roles
    token = gateway.key.sign(claims)
    headers = {"authorization": f"Bearer {token}"}
    expected = json.dumps(roles or [], separators=(",", ":"))
    for path in ("/me", "/svc/me"):
        seen = seen_upstream(gateway.http.get(gateway.url(path), headers=headers))
        assert seen["x-chaosgw-roles"] == expected, path
        assert seen["x-chaosgw-player-id"] == "p-r", path
    by_key = seen_upstream(gateway.call("GET", "/svc/me", "partner-key"))
    assert by_key["x-chaosgw-roles"] == '["partner"]'


def test_a_rotated_key_is_accepted_by_the_service_at_once_and_a_removed_one_refused(
    gateway: Gateway,
) -> None:
    """Last in the module: it leaves Envoy without the first key."""
    old, new = gateway.key, SigningKey("k2")
    old_token = gateway.token("p-a", '["player"]')
    pid = gateway.extauthz.pid
    gateway.idp.keys = [old, new]
    fetches = gateway.idp.fetches
    new_token = gateway.token("p-a", "player", key=new)
    headers = {"authorization": f"Bearer {new_token}"}

    # The first check of a process meets an unknown kid and fetches the keys itself; Envoy may
    # give up on that first check (its timeout is short), never the next ones.
    for _ in range(2 * PROCESSES):
        wait_for_response(
            gateway.http, gateway.url("/players/p-a/inventory"), headers=headers, timeout=5.0
        )
    assert 1 <= gateway.idp.fetches - fetches <= PROCESSES  # the processes, not the control plane
    assert gateway.extauthz.pid == pid
    assert gateway.call("GET", "/svc/me", "player-a").status_code == 200

    # The old key leaves the JWKS; the control plane's next refresh (forced here by a change of
    # the provider's refresh interval) pushes the set without it.
    gateway.idp.keys = [new]
    spec, _ = gateway.plane.admin.get("jwt-providers", "idp")
    spec.pop("metadata", None)
    spec["jwks"]["refresh_seconds"] = 3000
    gateway.plane.admin.update("jwt-providers", "idp", spec)
    old_headers = {"authorization": f"Bearer {old_token}"}
    refused = wait_for_response(
        gateway.http,
        gateway.url("/players/p-a/inventory"),
        status=401,
        headers=old_headers,
        timeout=10.0,
    )
    assert _code(refused) == "token_unknown_key"
    for _ in range(2 * PROCESSES):
        assert (
            gateway.http.get(gateway.url("/players/p-a/inventory"), headers=old_headers).status_code
            == 401
        )
        assert (
            gateway.http.get(gateway.url("/players/p-a/inventory"), headers=headers).status_code
            == 200
        )
    assert gateway.extauthz.pid == pid
