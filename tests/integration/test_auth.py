"""Native auth in the real Envoy: JWTs verified by `jwt_authn` (keys pushed over ECDS), roles
and permissions checked by `rbac`, identity handed upstream in headers nobody can forge.

One JWKS server plays the identity provider; tokens are made and forged in the test."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from authcontract import denials
from tests.integration.harness import wait_for_response, wait_until
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    forward_route,
    show_stack_logs,
    stack_fixture,
)
from tests.support.jwt_issuer import (
    JwksServer,
    SigningKey,
    claims_for,
    hs256_with_public_key,
    tampered,
    unsigned,
)

pytestmark = pytest.mark.integration

AUDIENCE = "chaos-world"
ROLES = {
    "player": ["inventory.read", "chat.send"],
    "gm": ["inventory.read", "chat.send", "players.moderate"],
    "admin": ["inventory.read", "players.moderate", "payments.refund"],
}


@dataclass
class Idp:
    """The identity provider and what the gateway declares for it."""

    server: JwksServer
    key: SigningKey
    stack: Stack

    def token(self, subject: str = "p-42", roles: list[str] | None = None, **extra: Any) -> str:
        claims = claims_for(self.server.issuer, AUDIENCE, subject, **extra)
        claims.setdefault("roles", roles if roles is not None else ["player"])
        return self.key.sign(claims)

    def get(
        self, client: httpx.Client, path: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return client.get(self.stack.gateway.url(path), headers=headers, **kwargs)


def protected(name: str, prefix: str, service: str, **auth: Any) -> dict[str, Any]:
    return forward_route(
        name,
        prefix,
        service,
        auth={
            "type": "authenticated",
            "credentials": [{"kind": "jwt", "providers": ["idp"]}],
            **auth,
        },
    )


@pytest.fixture(scope="module")
def idp(stack: Stack) -> Iterator[Idp]:
    key = SigningKey("k1")
    with JwksServer(key).running() as server:
        admin = stack.gateway.admin
        echo = stack.upstream("auth-echo")
        admin.create(
            "services", {"name": "auth-echo", "endpoints": [{"host": echo.host, "port": echo.port}]}
        )
        for role, permissions in ROLES.items():
            admin.create("roles", {"name": role, "permissions": permissions})
        admin.create(
            "jwt-providers",
            {
                "name": "idp",
                "issuer": server.issuer,
                "audiences": [AUDIENCE],
                "algorithms": ["RS256"],
                "jwks": {"type": "remote", "oidc_discovery": True, "refresh_seconds": 1},
                "claims": {"tier": "tier"},
                "clock_skew_seconds": 5,
            },
        )
        admin.create("routes", forward_route("auth-public", "/auth/public", "auth-echo"))
        admin.create("routes", protected("auth-any", "/auth/any", "auth-echo"))
        # The RBAC matrix's route table: who may do what in a game backend.
        for name, auth in MATRIX_ROUTES.items():
            admin.create("routes", protected(name, f"/auth/{name}", "auth-echo", **auth))
        yield Idp(server, key, stack)


MATRIX_ROUTES: dict[str, dict[str, Any]] = {
    "inventory": {"permissions_any_of": ["inventory.read"]},
    "chat": {"permissions_all_of": ["chat.send"]},
    "moderate": {"permissions_any_of": ["players.moderate"]},
    "refund": {"permissions_all_of": ["payments.refund", "inventory.read"]},
    "gm-desk": {"roles_any_of": ["gm", "admin"]},
    "gm-chat": {"roles_any_of": ["gm"], "permissions_all_of": ["chat.send"]},
}
MATRIX = {  # role -> routes it may call
    "player": {"inventory", "chat"},
    "gm": {"inventory", "chat", "moderate", "gm-desk", "gm-chat"},
    "admin": {"inventory", "moderate", "refund", "gm-desk"},
    "": set(),  # a valid token without roles
}


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return {k.lower(): v for k, v in body["headers"].items()}


def test_valid_token_reaches_the_upstream_as_identity_headers(idp: Idp) -> None:
    with httpx.Client(timeout=5.0) as client:
        token = idp.token("p-42", ["player", "gm"], tier="gold")
        wait_for_response(client, idp.stack.gateway.url("/auth/public"))
        headers = echoed(wait_accepted(idp, client, "/auth/any", token))
    assert headers["x-chaosgw-player-id"] == "p-42"
    assert headers["x-chaosgw-tier"] == "gold"
    # The auth service's format (authcontract.identity): compact JSON, the claim's order.
    assert headers["x-chaosgw-roles"] == '["player","gm"]'
    assert "authorization" not in headers


def wait_accepted(idp: Idp, client: httpx.Client, path: str, token: str) -> httpx.Response:
    def accepted() -> httpx.Response | None:
        response = idp.get(client, path, token)
        return response if response.status_code == 200 else None

    return wait_until(accepted, timeout=10.0, description=f"{path} to accept the token")


def refused(idp: Idp, client: httpx.Client, path: str, token: str | None, **kw: Any) -> str:
    """Refused by Envoy as the auth service refuses: the same challenge and body; the code."""
    response = idp.get(client, path, token, **kw)
    assert response.status_code == 401, response.text
    assert response.headers.get_list("www-authenticate") == ['Bearer realm="chaosgw"']
    code: str = response.json()["error"]["code"]
    assert response.json() == json.loads(denials.body(code))
    return code


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda i: unsigned(claims_for(i.server.issuer, AUDIENCE, "p-1", roles=["admin"]), "k1"),
            id="alg-none",
        ),
        pytest.param(
            lambda i: hs256_with_public_key(
                i.key, claims_for(i.server.issuer, AUDIENCE, "p-1", roles=["admin"])
            ),
            id="hs256-key-confusion",
        ),
        pytest.param(lambda i: i.token(lifetime=-60), id="expired"),
        pytest.param(lambda i: i.token(nbf=int(time.time()) + 600), id="nbf-in-future"),
        pytest.param(
            lambda i: i.key.sign(
                claims_for("https://evil.example", AUDIENCE, "p-1", roles=["admin"])
            ),
            id="wrong-issuer",
        ),
        pytest.param(
            lambda i: i.key.sign(claims_for(i.server.issuer, "other-game", "p-1", roles=["admin"])),
            id="wrong-audience",
        ),
        pytest.param(
            lambda i: SigningKey("k-unknown").sign(
                claims_for(i.server.issuer, AUDIENCE, "p-1", roles=["admin"])
            ),
            id="unknown-kid",
        ),
        pytest.param(
            lambda i: SigningKey("k1").sign(
                claims_for(i.server.issuer, AUDIENCE, "p-1", roles=["admin"])
            ),
            id="other-key-same-kid",
        ),
        pytest.param(
            lambda i: tampered(i.token("p-1", ["player"]), roles=["admin"], sub="p-2"),
            id="tampered-payload",
        ),
        pytest.param(lambda i: None, id="no-token"),
    ],
)
def test_forged_and_invalid_tokens_are_refused_with_401(idp: Idp, forge: Any) -> None:
    token = forge(idp)
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/any", idp.token())
        code = refused(idp, client, "/auth/any", token)
        # Not even a valid token's own route is opened by it, and nothing went upstream.
        refused(idp, client, "/auth/refund", token)
    assert code == "missing_credential" if token is None else code in TOKEN_CODES


TOKEN_CODES = {code for code, (status, _) in denials.REASONS.items() if status == 401} - {
    "missing_credential"
}


@pytest.mark.parametrize(
    ("make", "code"),
    [
        pytest.param(lambda i: None, "missing_credential", id="no-token"),
        pytest.param(lambda i: i.token(lifetime=-60), "token_expired", id="expired"),
        pytest.param(lambda i: "not.a-jwt", "invalid_token", id="malformed"),
    ],
)
def test_native_denials_match_the_auth_service_and_echo_nothing(
    idp: Idp, make: Any, code: str
) -> None:
    """Envoy's own `WWW-Authenticate` would be `Bearer realm="http://HOST/PATH"`: the
    request's host and path, echoed. The gateway answers what the auth service answers."""
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/any", idp.token())
        response = idp.get(
            client, "/auth/any/secret-path", make(idp), headers={"host": "evil.example"}
        )
        forbidden = idp.get(client, "/auth/refund", idp.token(roles=["player"]))
    assert response.status_code == 401
    assert response.headers.get_list("www-authenticate") == ['Bearer realm="chaosgw"']
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads(denials.body(code))
    assert "evil" not in response.text
    assert "secret" not in response.text
    assert forbidden.status_code == 403
    assert "www-authenticate" not in forbidden.headers
    assert forbidden.json() == {
        "error": {"code": "missing_role", "reason": denials.REASONS["missing_role"][1]}
    }


def test_client_sent_identity_headers_never_reach_the_upstream(idp: Idp) -> None:
    forged = {"x-chaosgw-player-id": "p-admin", "x-chaosgw-roles": "admin", "x-chaosgw-tier": "x"}
    with httpx.Client(timeout=5.0) as client:
        token = idp.token("p-7", ["player"])
        protected_headers = echoed(wait_accepted(idp, client, "/auth/any", token))
        response = idp.get(client, "/auth/any", token, headers=forged)
        public = idp.get(client, "/auth/public", None, headers=forged)
    assert echoed(response)["x-chaosgw-player-id"] == "p-7"
    assert "x-chaosgw-tier" not in echoed(response)  # the token has no tier claim
    assert echoed(response)["x-chaosgw-roles"] == protected_headers["x-chaosgw-roles"]
    assert not {h for h in echoed(public) if h.startswith("x-chaosgw-")}


def test_rbac_matrix_holds_for_every_role_and_route(idp: Idp) -> None:
    outcomes: dict[tuple[str, str], int] = {}
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/inventory", idp.token(roles=["player"]))
        for role in MATRIX:
            token = idp.token(f"p-{role}", [role] if role else [])
            for route in MATRIX_ROUTES:
                response = idp.get(client, f"/auth/{route}", token)
                outcomes[role, route] = response.status_code
                if response.status_code == 403:
                    assert response.json() == json.loads(denials.body("missing_role"))
    expected = {
        (role, route): 200 if route in allowed else 403
        for role, allowed in MATRIX.items()
        for route in MATRIX_ROUTES
    }
    assert outcomes == expected


def test_role_permission_change_is_pushed_without_touching_the_listener(idp: Idp) -> None:
    admin, envoy = idp.stack.gateway.admin, idp.stack.gateway.envoy
    token = idp.token("p-9", ["player"])
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/inventory", token)
        assert idp.get(client, "/auth/moderate", token).status_code == 403
        modified = envoy.stat("listener_manager.listener_modified")
        admin.update(
            "roles",
            "player",
            {"name": "player", "permissions": [*ROLES["player"], "players.moderate"]},
        )
        wait_accepted(idp, client, "/auth/moderate", token)
        admin.update("roles", "player", {"name": "player", "permissions": ROLES["player"]})
        wait_until(
            lambda: idp.get(client, "/auth/moderate", token).status_code == 403,
            timeout=10.0,
            description="the permission to be taken back",
        )
    assert envoy.stat("listener_manager.listener_modified") == modified


def test_key_rotation_at_the_provider_needs_no_restart(idp: Idp) -> None:
    """New key published: its tokens work (within the 1 s refresh); old key withdrawn: its
    tokens stop working. Over ECDS: the listener is never modified."""
    envoy = idp.stack.gateway.envoy
    old, new = idp.key, SigningKey("k2")
    old_token = idp.token("p-old")
    new_token = new.sign(claims_for(idp.server.issuer, AUDIENCE, "p-new", roles=["player"]))
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/any", old_token)
        modified = envoy.stat("listener_manager.listener_modified")
        refused(idp, client, "/auth/any", new_token)

        idp.server.keys = [old, new]
        wait_accepted(idp, client, "/auth/any", new_token)
        assert idp.get(client, "/auth/any", old_token).status_code == 200

        idp.server.keys = [new]
        wait_until(
            lambda: idp.get(client, "/auth/any", old_token).status_code == 401,
            timeout=10.0,
            description="the withdrawn key's token to be refused",
        )
        assert idp.get(client, "/auth/any", new_token).status_code == 200
        idp.server.keys = [old, new]
        wait_accepted(idp, client, "/auth/any", old_token)
    assert envoy.stat("listener_manager.listener_modified") == modified
    assert envoy.stat("listener_manager.listener_in_place_updated") == 0


def test_query_string_token_only_where_the_provider_allows_it(idp: Idp) -> None:
    admin, envoy = idp.stack.gateway.admin, idp.stack.gateway.envoy
    token = idp.token("p-q", ["player"])
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/any", token)
        modified = envoy.stat("listener_manager.listener_modified")
        code = refused(idp, client, "/auth/any", None, params={"access_token": token})
        assert code == "missing_credential"

        provider, _ = admin.get("jwt-providers", "idp")
        spec = {k: v for k, v in provider.items() if k != "metadata"}
        spec["token_sources"] = {"authorization_header": True, "query_parameter": "access_token"}
        admin.update("jwt-providers", "idp", spec)
        url = idp.stack.gateway.url("/auth/any")
        wait_until(
            lambda: client.get(url, params={"access_token": token}).status_code == 200,
            timeout=10.0,
            description="a query-string token to be accepted once allowed",
        )
        spec["token_sources"] = {"authorization_header": True}
        admin.update("jwt-providers", "idp", spec)
        wait_until(
            lambda: client.get(url, params={"access_token": token}).status_code == 401,
            timeout=10.0,
            description="a query-string token to be refused again",
        )
    assert envoy.stat("listener_manager.listener_modified") == modified


def test_no_token_appears_in_any_log(idp: Idp) -> None:
    token = idp.token("p-log", ["player"])
    with httpx.Client(timeout=5.0) as client:
        wait_accepted(idp, client, "/auth/any", token)
        refused(idp, client, "/auth/any", tampered(token, roles=["admin"]))
    signature = token.rsplit(".", 1)[1]
    for process in idp.stack.processes.processes:
        text = process.log_path.read_text(errors="replace")
        assert signature not in text, f"a token appears in the log of {process.name}"
