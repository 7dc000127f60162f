"""A revocation made the moment a restarted control plane is ready holds within a second: the
control plane is SIGKILLed and started again, and at the first 200 of its /readyz an API key is
revoked, a player banned or a rate limit lowered; the real Envoy refuses them within 1 s, on
every auth and rate-limit process. A route removed then (Envoy's own config) is gone once Envoy
has reconnected: within 1.5 s.

One gateway for the module (two `extauthz` and two `ratelimit` processes, one Redis for the
sessions and the counters); each test restarts the control plane itself."""

import time
from collections.abc import Iterator
from functools import partial

import httpx
import pytest

from tests.integration.auth_gateway import UPSTREAM, AuthGateway, auth_gateway, refused
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import AdminClient, route_spec, wait_for_response, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PROCESSES = 2
PROMISE = 1.0  # seconds from the first ready answer to every process refusing
# Envoy's own config: its next ADS attempt comes at most 1 s after the xDS port opens (the
# bootstrap's back-off cap), ready is 0.5 s after it; room for the push on a busy machine.
ENVOY_BOUND = 1.5
SESSION_HEADER = "x-chaosgw-session"
LIMIT = {"requests": 1000, "window_seconds": 60}


def _declare(admin: AdminClient) -> None:
    for name, kind in (("keys", "api_key"), ("me", "session"), ("limited", "api_key")):
        route = route_spec(name, "public", f"/{name}", {UPSTREAM: 1})
        route["auth"] = {"type": "authenticated", "credentials": [{"kind": kind}]}
        admin.create("routes", route)
    admin.create("rate-limit-policies", _policy(LIMIT))
    admin.create("routes", route_spec("retired", "public", "/retired", {UPSTREAM: 1}))


def _policy(limit: dict[str, int]) -> dict[str, object]:
    return {
        "name": "per-key",
        "applies_to": {"type": "routes", "routes": ["limited"]},
        "counted_by": ["api_key"],
        "limit": limit,
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthGateway]:
    tmp = tmp_path_factory.mktemp("restart-revocation")
    redis = RedisServer(tmp / "redis").start()
    env = {"CHAOSGW_SESSIONS_REDIS_URL": redis.url, "CHAOSGW_EXTAUTHZ_REDIS_URL": redis.url}
    try:
        with auth_gateway(
            tmp, processes=PROCESSES, env=env, declare=_declare, ratelimit=True
        ) as gateway:
            yield gateway
    finally:
        redis.stop()


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, gateway: AuthGateway) -> None:
    request.node.stash[_PROCESSES] = gateway.plane.processes


def restarted(gateway: AuthGateway) -> float:
    """SIGKILL the control plane, start it again, and return the time (monotonic) of the first
    200 of its /readyz, asked every 5 ms."""
    plane = gateway.plane
    assert plane.process is not None
    plane.kill()
    plane.process.start()

    def ready() -> float | None:
        answered = httpx.get(f"{plane.admin_url}/readyz", timeout=1.0).status_code == 200
        return time.monotonic() if answered else None

    return wait_until(
        ready,
        timeout=20.0,
        interval=0.005,
        description="the restarted control plane's first ready answer",
        ignore=(httpx.TransportError,),
        alive=[plane.process],
    )


def refused_within_the_promise(
    gateway: AuthGateway,
    ready_at: float,
    path: str,
    status: int,
    headers: dict[str, str] | None = None,
    within: float = PROMISE,
) -> httpx.Response:
    """The first `status` answer of `path`, failing when it comes later than the promise; then
    every process answers it (requests alternate between them)."""
    answer = wait_for_response(
        gateway.http,
        gateway.url(path),
        status=status,
        headers=headers,
        timeout=max(ready_at + within - time.monotonic(), 0.0),
        alive=[gateway.extauthz],
    )
    took = time.monotonic() - ready_at
    print(f"{path}: {status} {took:.3f}s after the first ready answer")
    assert took < within, f"{path} answered {status} only {took:.3f}s after ready"
    for _ in range(2 * PROCESSES):
        assert gateway.get(path, **(headers or {})).status_code == status
    return answer


def admitted(gateway: AuthGateway, path: str, **headers: str) -> None:
    """`path` admits `headers` on every process."""
    for _ in range(2 * PROCESSES):
        wait_for_response(
            gateway.http,
            gateway.url(path),
            headers=headers,
            alive=[gateway.extauthz],
        )


_refused_key = partial(refused, challenge='ApiKey realm="chaosgw"')


def test_a_key_revoked_at_the_first_ready_answer_is_refused_within_a_second(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("revoked-after-restart")
    admitted(gateway, "/keys", **{"x-api-key": key})

    ready_at = restarted(gateway)
    gateway.plane.admin.delete("api-keys", "revoked-after-restart")

    answer = refused_within_the_promise(gateway, ready_at, "/keys", 401, {"x-api-key": key})
    _refused_key(answer, 401, "unknown_key")


def test_a_ban_at_the_first_ready_answer_is_refused_within_a_second(
    gateway: AuthGateway,
) -> None:
    made = gateway.plane.admin.create("sessions", {"player_id": "banned-after-restart"})
    session = {SESSION_HEADER: made["session_id"]}
    admitted(gateway, "/me", **session)

    ready_at = restarted(gateway)
    banned = gateway.plane.admin.request("DELETE", "/api/v1/players/banned-after-restart/sessions")
    assert banned.status_code == 200, banned.text

    answer = refused_within_the_promise(gateway, ready_at, "/me", 401, session)
    refused(answer, 401, "unknown_session", 'Session realm="chaosgw"')


def test_a_limit_lowered_at_the_first_ready_answer_holds_within_a_second(
    gateway: AuthGateway,
) -> None:
    key = gateway.new_key("limited-after-restart")
    sent = {"x-api-key": key}

    def counted() -> bool:
        return "ratelimit-limit" in gateway.get("/limited", **sent).headers

    for _ in range(2 * PROCESSES):  # counted by every process of both services
        wait_until(counted, timeout=10.0, description="the key admitted and counted")

    ready_at = restarted(gateway)
    gateway.plane.admin.update("rate-limit-policies", "per-key", _policy({**LIMIT, "requests": 1}))

    answer = refused_within_the_promise(gateway, ready_at, "/limited", 429, sent)
    assert answer.headers["ratelimit-limit"] == "1"


def test_a_route_removed_at_the_first_ready_answer_is_gone_from_envoy_soon(
    gateway: AuthGateway,
) -> None:
    # Envoy's own config: it holds once Envoy has reconnected, not when the services have.
    admitted(gateway, "/retired")

    ready_at = restarted(gateway)
    gateway.plane.admin.delete("routes", "retired")

    refused_within_the_promise(gateway, ready_at, "/retired", 404, within=ENVOY_BOUND)
