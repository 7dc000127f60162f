"""API keys end to end: made through the admin API, pushed over ADS to real `extauthz`
processes, checked by the real Envoy's `ext_authz` on the routes that require them.

One control plane, one Envoy, one launcher of two auth service processes for the module; the
last test kills the service, so it runs last."""

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2
from sqlalchemy import create_engine, text

from tests.integration.auth_gateway import (
    UPSTREAM,
    AuthGateway,
    auth_gateway,
    refused,
    seen_upstream,
)
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import LOCALHOST, AdminClient, wait_for_response
from tests.integration.stack import received

pytestmark = pytest.mark.integration

PROCESSES = 2
CHECK = "/envoy.service.auth.v3.Authorization/Check"
# Envoy's count of the checks that failed (no answer in time, or none at all).
_EXTAUTHZ_ERRORS = r"^http\.public\.ext_authz\.error$"


def _declare(admin: AdminClient) -> None:
    admin.create("roles", {"name": "partner", "permissions": ["orders.read"]})
    admin.create("routes", _route("orders", "/orders", permissions_any_of=["orders.read"]))
    admin.create("routes", _route("stats", "/stats"))
    admin.create("routes", _route("public", "/public", auth=None))


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthGateway]:
    tmp = tmp_path_factory.mktemp("extauthz")
    with auth_gateway(tmp, processes=PROCESSES, declare=_declare) as gateway:
        yield gateway


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, gateway: AuthGateway) -> None:
    request.node.stash[_PROCESSES] = gateway.plane.processes


def _route(name: str, prefix: str, auth: Any = "api_key", **terms: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": UPSTREAM}]},
    }
    if auth is not None:
        spec["auth"] = {"type": "authenticated", "credentials": [{"kind": auth}], **terms}
    return spec


_refused = partial(refused, challenge='ApiKey realm="chaosgw"')


def test_a_key_made_through_the_api_opens_its_route_and_is_not_passed_on(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("acme", roles=["partner"], tier="gold")
    # The key, pushed to every auth process, works on both of them (requests alternate).
    for _ in range(2 * PROCESSES):
        wait_for_response(
            gateway.http,
            gateway.url("/orders"),
            status=200,
            headers={"x-api-key": key},
            alive=[gateway.extauthz],
        )
    response = gateway.get("/orders", key, **{"x-chaosgw-api-key-id": "someone-else"})

    assert response.status_code == 200, response.text
    seen = seen_upstream(response)
    assert seen["x-chaosgw-api-key-id"] == "acme"
    assert seen["x-chaosgw-roles"] == '["partner"]'
    assert seen["x-chaosgw-tier"] == "gold"
    assert "x-api-key" not in seen
    via_authorization = gateway.get("/orders", authorization=f"ApiKey {key}")
    assert via_authorization.status_code == 200, via_authorization.text
    assert "authorization" not in seen_upstream(via_authorization)


def test_no_key_or_a_wrong_one_is_401_and_a_forged_identity_never_passes(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("wrong-key-case", roles=["partner"])
    wait_for_response(gateway.http, gateway.url("/orders"), status=200, headers={"x-api-key": key})
    forged = {"x-chaosgw-api-key-id": "acme", "x-chaosgw-roles": "partner"}

    _refused(gateway.get("/orders", **forged), 401, "missing_credential")
    _refused(gateway.get("/orders", key[:-2] + "xx", **forged), 401, "unknown_key")
    _refused(gateway.get("/orders", authorization=f"Bearer {key}"), 401, "missing_credential")
    public = gateway.get("/public", **forged)
    assert public.status_code == 200, public.text
    assert not {"x-chaosgw-api-key-id", "x-chaosgw-roles"} & seen_upstream(public).keys()


def test_the_response_shows_the_key_once_and_the_store_never(gateway: AuthGateway) -> None:
    key = gateway.new_key("shown-once", roles=["partner"])
    admin = gateway.plane.admin
    shown = [admin.request("GET", f"/api/v1/api-keys{path}").text for path in ("", "/shown-once")]
    engine = create_engine(gateway.database_url)
    try:
        with engine.connect() as connection:
            stored = [str(row) for row in connection.execute(text("SELECT * FROM api_keys"))]
    finally:
        engine.dispose()

    assert all(key not in body for body in shown)
    assert all("key_hash" not in body for body in shown)
    assert len(stored) >= 1
    assert all(key[4:] not in row for row in stored)


def test_a_key_without_the_routes_role_is_403(gateway: AuthGateway) -> None:
    key = gateway.new_key("reader", roles=[])
    wait_for_response(gateway.http, gateway.url("/stats"), status=200, headers={"x-api-key": key})

    _refused(gateway.get("/orders", key), 403, "missing_role")


def test_a_key_is_refused_once_it_expires(gateway: AuthGateway) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=2)
    key = gateway.new_key("short-lived", expires_at=expires.isoformat())
    wait_for_response(gateway.http, gateway.url("/stats"), status=200, headers={"x-api-key": key})
    already = gateway.new_key("expired", expires_at="2020-01-01T00:00:00Z")

    refused = wait_for_response(
        gateway.http, gateway.url("/stats"), status=401, headers={"x-api-key": key}, timeout=5.0
    )
    assert datetime.now(UTC) >= expires
    _refused(refused, 401, "expired_key")
    _refused(gateway.get("/stats", already), 401, "expired_key")


def test_a_revoked_key_is_refused_through_envoy_within_a_second(gateway: AuthGateway) -> None:
    key = gateway.new_key("revoked")
    wait_for_response(gateway.http, gateway.url("/stats"), status=200, headers={"x-api-key": key})

    revoked_at = time.monotonic()
    gateway.plane.admin.delete("api-keys", "revoked")
    refused = wait_for_response(
        gateway.http, gateway.url("/stats"), status=401, headers={"x-api-key": key}, timeout=1.0
    )
    took = time.monotonic() - revoked_at
    assert took < 1.0, f"revocation took {took:.3f}s"
    _refused(refused, 401, "unknown_key")
    # Every process has it: the next requests (spread over them) are refused too.
    for _ in range(2 * PROCESSES):
        _refused(gateway.get("/stats", key), 401, "unknown_key")


async def test_a_garbage_check_request_is_refused_and_the_service_keeps_serving(
    gateway: AuthGateway,
) -> None:
    valid = external_auth_pb2.CheckRequest()
    valid.attributes.context_extensions["route"] = "stats"
    for n in range(PROCESSES):
        async with grpc.aio.insecure_channel(f"{LOCALHOST}:{gateway.grpc_port + n}") as channel:
            check = channel.unary_unary(CHECK, None, None)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await check(b"\xff\xff\xff not a CheckRequest", timeout=2.0)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            answer = external_auth_pb2.CheckResponse.FromString(
                await check(valid.SerializeToString(), timeout=2.0)
            )
            assert answer.denied_response.status.code == 401


def test_a_frozen_auth_service_is_a_503_never_an_admission_and_admits_once_resumed(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("while-frozen")
    for _ in range(2 * PROCESSES):
        wait_for_response(
            gateway.http, gateway.url("/stats"), status=200, headers={"x-api-key": key}
        )
    upstream = gateway.upstreams[UPSTREAM]
    workers = gateway.workers()
    assert len(workers) == PROCESSES

    reached = received(upstream)
    errors = sum(gateway.envoy.stats(_EXTAUTHZ_ERRORS).values())
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        # Every check times out (Envoy waits 0.2 s): refused, whichever process it goes to.
        statuses = [gateway.get("/stats", key).status_code for _ in range(2 * PROCESSES + 2)]
        assert statuses == [503] * len(statuses)
        assert received(upstream) == reached
        assert sum(gateway.envoy.stats(_EXTAUTHZ_ERRORS).values()) - errors == len(statuses)
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)

    # Resumed, the same processes admit again (requests alternate: both of them).
    for _ in range(2 * PROCESSES):
        admitted = wait_for_response(
            gateway.http,
            gateway.url("/stats"),
            status=200,
            headers={"x-api-key": key},
            timeout=10.0,
            alive=[gateway.extauthz],
        )
        assert seen_upstream(admitted)["x-chaosgw-api-key-id"] == "while-frozen"
    assert gateway.workers() == workers


def test_without_the_auth_service_protected_routes_refuse_and_public_ones_serve(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("while-down")
    wait_for_response(gateway.http, gateway.url("/stats"), status=200, headers={"x-api-key": key})

    gateway.extauthz.kill()
    statuses = {gateway.get("/stats", key).status_code for _ in range(10)}
    assert statuses == {503}
    assert gateway.get("/public").status_code == 200
