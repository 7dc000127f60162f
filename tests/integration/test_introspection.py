"""Opaque OAuth 2.0 access tokens end to end: an introspector declared through the admin API,
pushed over ADS to real `extauthz` processes, which introspect (RFC 7662) tokens at a real HTTP
provider for the real Envoy's `ext_authz` on the routes that accept them.

One gateway (control plane, Envoy, two auth processes: tests/integration/auth_gateway.py) for
the module; each test has its own provider, introspector and route."""

import itertools
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from tests.integration.auth_gateway import UPSTREAM, AuthGateway, auth_gateway, refused
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import wait_for_response
from tests.support.introspection_provider import IntrospectionProvider

pytestmark = pytest.mark.integration

PROCESSES = 2

_NAMES = (f"idp-{n}" for n in itertools.count())


class Protected:
    """A provider, its introspector and a route accepting its tokens, at /<name>."""

    def __init__(
        self, gateway: AuthGateway, provider: IntrospectionProvider, **fields: Any
    ) -> None:
        self.gateway, self.provider = gateway, provider
        self.name = next(_NAMES)
        self.path = f"/{self.name}"
        admin = gateway.plane.admin
        admin.create("oauth2-introspectors", self.introspector(provider, **fields))
        admin.create(
            "routes",
            {
                "name": self.name,
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": self.path}},
                "action": {"type": "forward", "backends": [{"service": UPSTREAM}]},
                "auth": {
                    "type": "authenticated",
                    "credentials": [{"kind": "oauth2_introspection", "introspectors": [self.name]}],
                },
            },
        )

    def introspector(self, provider: IntrospectionProvider, **fields: Any) -> dict[str, Any]:
        return {
            "name": self.name,
            "introspection_url": provider.url,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
            "timeout_seconds": 0.1,
            **fields,
        }

    def get(self, token: str, **headers: str) -> httpx.Response:
        return self.gateway.get(self.path, authorization=f"Bearer {token}", **headers)

    def admitted_everywhere(self, token: str) -> None:
        """Waits until the route admits `token` on every auth process (requests alternate)."""
        for _ in range(2 * PROCESSES):
            wait_for_response(
                self.gateway.http,
                self.gateway.url(self.path),
                status=200,
                headers={"authorization": f"Bearer {token}"},
                alive=[self.gateway.extauthz],
            )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthGateway]:
    with auth_gateway(tmp_path_factory.mktemp("introspection"), processes=PROCESSES) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, gateway: AuthGateway) -> None:
    request.node.stash[_PROCESSES] = gateway.plane.processes


@pytest.fixture
def provider() -> Iterator[IntrospectionProvider]:
    with IntrospectionProvider().running() as running:
        yield running


_refused = partial(refused, challenge='Bearer realm="chaosgw"')


def test_an_active_token_is_admitted_with_its_identity_and_is_not_passed_on(
    gateway: AuthGateway, provider: IntrospectionProvider
) -> None:
    route = Protected(gateway, provider, claims={"tier": "tier"})
    token = provider.issue(sub="player-42", scope="play trade", tier="gold")
    route.admitted_everywhere(token)

    forged = {"x-chaosgw-player-id": "someone-else", "x-chaosgw-roles": "admin"}
    response = route.get(token, **forged)

    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-chaosgw-player-id"] == "player-42"
    assert seen["x-chaosgw-roles"] == '["play","trade"]'
    assert seen["x-chaosgw-tier"] == "gold"
    assert "authorization" not in seen


def test_an_inactive_or_unknown_token_is_401_with_a_bearer_challenge(
    gateway: AuthGateway, provider: IntrospectionProvider
) -> None:
    route = Protected(gateway, provider)
    route.admitted_everywhere(provider.issue())
    revoked = provider.issue()
    provider.revoke(revoked)

    _refused(route.get(revoked), 401, "inactive_token")
    _refused(route.get("never-issued"), 401, "inactive_token")
    _refused(gateway.get(route.path), 401, "missing_credential")


def test_a_token_is_introspected_once_per_process_then_served_from_memory(
    gateway: AuthGateway, provider: IntrospectionProvider
) -> None:
    route = Protected(gateway, provider)
    route.admitted_everywhere(provider.issue())
    token = provider.issue()

    statuses = [route.get(token).status_code for _ in range(5 * PROCESSES)]

    assert statuses == [200] * (5 * PROCESSES)
    assert 1 <= provider.calls_for(token) <= PROCESSES


def test_a_cached_token_is_refused_once_past_its_exp(
    gateway: AuthGateway, provider: IntrospectionProvider
) -> None:
    route = Protected(gateway, provider)
    token = provider.issue(lifetime=3)
    expires = provider.answers[token]["exp"]
    route.admitted_everywhere(token)
    calls = provider.calls_for(token)

    refused = wait_for_response(
        gateway.http,
        gateway.url(route.path),
        status=401,
        headers={"authorization": f"Bearer {token}"},
        timeout=6.0,
    )

    # Never admitted past `exp`, though the provider still calls the token active.
    assert time.time() >= expires
    _refused(refused, 401, "inactive_token")
    for _ in range(2 * PROCESSES):
        _refused(route.get(token), 401, "inactive_token")
    assert provider.answers[token]["active"] is True
    assert provider.calls_for(token) > calls


def test_a_provider_slow_or_down_is_a_503_never_an_admission(
    gateway: AuthGateway, provider: IntrospectionProvider
) -> None:
    route = Protected(gateway, provider)
    route.admitted_everywhere(provider.issue())

    provider.delay = 0.5  # more than the introspector's 0.1 s
    slow = [route.get(provider.issue()) for _ in range(PROCESSES)]
    provider.stop()
    down = [route.get(provider.issue()) for _ in range(2 * PROCESSES)]

    for response in slow + down:
        _refused(response, 503, "introspection_unavailable")
    # Failures are not kept: with a provider answering again, tokens are admitted again.
    with IntrospectionProvider().running() as back:
        gateway.plane.admin.update("oauth2-introspectors", route.name, route.introspector(back))
        route.admitted_everywhere(back.issue())
