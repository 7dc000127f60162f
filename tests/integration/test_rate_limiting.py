"""Rate limiting end to end, as a player sees it: the real `chaosgw ratelimit` service (two
processes) deciding for real Envoys configured by the control plane, counters in a disposable
Redis. Limits, headers, two Envoys sharing one limit, shadow mode, Redis and the service
failing, and policies arriving and changing over ADS without a restart. Players are who a
verified JWT says: every route here needs one.
"""

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.harness import (
    LOCALHOST,
    Envoy,
    ManagedProcess,
    ProcessGroup,
    Upstream,
    free_port,
    listener_spec,
    port_accepts,
    route_spec,
    scratch_database,
    service_spec,
    wait_for_response,
    wait_until,
)
from tests.integration.ratelimit_service import Players, RateLimitedControlPlane, RateLimitService
from tests.integration.stack import received, show_stack_logs
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration
__all__ = ["show_stack_logs"]  # autouse: a failing test shows the shared processes' logs

PLAYER = "x-chaosgw-player-id"
PLAYERS = Players()
SERVICE = "rl-items"
WINDOW = 60
# A minute is 20 sub-windows of 3 s: a hit leaves the counter's span at most 63 s after it.
LONGEST_WAIT = WINDOW + WINDOW // 20
LISTENER_MODIFIED = "listener_manager.listener_modified"
# Envoy's rate-limit filter counts, per cluster, calls that failed or timed out.
FAILED_CALLS = r"\.ratelimit\.(error|failure_mode_allowed)$"


@dataclass
class RateLimitedStack:
    """A control plane, the service, two Envoys in two node groups (a listener each), one
    upstream, PLAYERS' JWT provider; tests declare their own routes (each needing a token) and
    policies under their own paths."""

    processes: ProcessGroup
    redis: RedisServer
    service: RateLimitService
    envoys: tuple[Envoy, Envoy]
    ports: tuple[int, int]
    plane: RateLimitedControlPlane
    upstream: Upstream

    def route(self, name: str, prefix: str, listener: str = "public") -> str:
        self.plane.admin.create("routes", rate_limited_route(name, listener, prefix))
        port = self.ports[0 if listener == "public" else 1]
        return f"http://{LOCALHOST}:{port}{prefix}"

    def policy(self, name: str, routes: list[str], requests: int, **fields: Any) -> None:
        self.plane.admin.create("rate-limit-policies", policy(name, routes, requests, **fields))


def policy(name: str, routes: list[str], requests: int, **fields: Any) -> dict[str, Any]:
    """A per-player policy of `requests` a minute on `routes`."""
    return {
        "name": name,
        "applies_to": {"type": "routes", "routes": routes},
        "counted_by": ["player"],
        "limit": {"requests": requests, "window_seconds": WINDOW},
        **fields,
    }


def rate_limited_route(name: str, listener: str, prefix: str) -> dict[str, Any]:
    """A route to the upstream open to players only: the per-player policies count someone."""
    return PLAYERS.protect(route_spec(name, listener, prefix, {SERVICE: 1}))


def player(name: str) -> dict[str, str]:
    """The headers of a request by player `name`: a token whose `sub` is `name`."""
    return PLAYERS.headers(name)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RateLimitedStack]:
    tmp = tmp_path_factory.mktemp("rate-limiting")
    (tmp / "logs").mkdir()
    processes = ProcessGroup(tmp / "logs")
    redis = RedisServer(tmp / "redis")
    processes.processes.append(redis.process)  # its log on failure, stopped with the rest
    try:
        redis.start()
        with scratch_database("", tmp) as database_url:
            # Each names the other: the plane's xDS port and the service's ports are picked
            # when they are made, the processes start after.
            plane = RateLimitedControlPlane(processes, database_url, endpoints=[])
            service = RateLimitService(processes, redis.url, plane.xds_address)
            plane.endpoints = service.endpoints
            plane.start()
            upstream = Upstream(processes, "rl-upstream", free_port(), LOCALHOST)
            upstream.wait_serving()
            ports = (free_port(), free_port())
            admin = plane.admin
            admin.create("listeners", listener_spec("public", ports[0]))
            admin.create("listeners", {**listener_spec("public-b", ports[1]), "node_group": "b"})
            admin.create("services", service_spec(SERVICE, upstream.port))
            admin.create("jwt-providers", PLAYERS.provider_spec())
            envoys = (
                Envoy(processes, plane.xds_address),
                Envoy(processes, plane.xds_address, group="b"),
            )
            service.start()
            for proxy, port in zip(envoys, ports, strict=True):
                proxy.wait_live()
                wait_until(
                    lambda port=port: port_accepts(port),  # type: ignore[misc]
                    timeout=5.0,
                    description=f"Envoy listener on port {port}",
                    alive=[proxy.process],
                )
            yield RateLimitedStack(processes, redis, service, envoys, ports, plane, upstream)
            for proxy in envoys:
                proxy.close()
            plane.close()
    finally:
        processes.stop_all()
        redis.client.close()


def wait_enforced(
    client: httpx.Client,
    url: str,
    limit: int,
    timeout: float = 5.0,
    alive: Sequence[ManagedProcess] = (),
) -> float:
    """Until a request through `url` is decided by the service under a limit of `limit` (the
    policy reached both Envoy and the service); returns how long that took. A probe player of
    its own is used: nobody else's count moves."""
    started = time.monotonic()
    wait_until(
        lambda: (
            client.get(url, headers=player("probe")).headers.get("ratelimit-limit") == str(limit)
        ),
        timeout=timeout,
        description=f"{url} to be limited to {limit}",
        alive=alive,
    )
    return time.monotonic() - started


def failed_calls(proxy: Envoy) -> int:
    return sum(proxy.stats(FAILED_CALLS).values())


def test_a_player_gets_exactly_the_limit_then_429_and_others_are_unaffected(
    stack: RateLimitedStack, client: httpx.Client
) -> None:
    limit = 5
    url = stack.route("per-player", "/rl/per-player")
    stack.policy("per-player", ["per-player"], limit)
    wait_enforced(client, url, limit)
    reached = received(stack.upstream)

    answers = [client.get(url, headers=player("alice")) for _ in range(limit + 1)]

    assert [a.status_code for a in answers] == [200] * limit + [429]
    for left, admitted in zip(range(limit - 1, -1, -1), answers, strict=False):
        assert admitted.headers["ratelimit-limit"] == str(limit)
        assert admitted.headers["ratelimit-remaining"] == str(left)
        assert 1 <= int(admitted.headers["ratelimit-reset"]) <= LONGEST_WAIT
        assert "retry-after" not in admitted.headers
    refused = answers[-1].headers
    assert refused["ratelimit-limit"] == str(limit)
    assert refused["ratelimit-remaining"] == "0"
    assert 1 <= int(refused["retry-after"]) <= LONGEST_WAIT
    assert refused["ratelimit-reset"] == refused["retry-after"]
    assert received(stack.upstream) - reached == limit, "the 429 never reached the upstream"

    # A client's own identity header is stripped: the token decides whose quota is used.
    forged = client.get(url, headers={**player("mallory"), PLAYER: "alice"})
    assert forged.status_code == 200
    assert forged.headers["ratelimit-remaining"] == str(limit - 1), "mallory's count, not alice's"

    other = client.get(url, headers=player("bob"))
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == str(limit - 1)


def test_two_envoys_share_one_limit(stack: RateLimitedStack, client: httpx.Client) -> None:
    limit = 6
    urls = [
        stack.route("shared-a", "/rl/shared", "public"),
        stack.route("shared-b", "/rl/shared", "public-b"),
    ]
    stack.policy("shared", ["shared-a", "shared-b"], limit)
    for url in urls:
        wait_enforced(client, url, limit)

    # Alternating Envoys: one count, whichever Envoy a request goes through.
    answers = [client.get(urls[n % 2], headers=player("carol")) for n in range(limit + 2)]

    assert [a.status_code for a in answers] == [200] * limit + [429, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:limit]] == [
        str(left) for left in range(limit - 1, -1, -1)
    ]


def test_shadow_mode_never_blocks_and_is_counted(
    stack: RateLimitedStack, client: httpx.Client
) -> None:
    limit, sent = 2, 5
    url = stack.route("shadowed", "/rl/shadowed")
    stack.policy("shadowed", ["shadowed"], limit, shadow=True)
    # A shadow policy adds no headers: it is in force once the service counts for it.
    wait_until(
        lambda: (
            client.get(url, headers=player("probe")).status_code == 200
            and stack.service.decisions("shadowed", "allowed") > 0
        ),
        timeout=5.0,
        description="the service to count for the shadow policy",
    )
    limited = stack.service.decisions("shadowed", "shadow_limited")

    answers = [client.get(url, headers=player("dave")) for _ in range(sent)]

    assert [a.status_code for a in answers] == [200] * sent
    assert not any("ratelimit-limit" in a.headers for a in answers)
    assert stack.service.decisions("shadowed", "shadow_limited") - limited == sent - limit


def test_a_policy_is_enforced_within_2s_and_updated_without_restart(
    stack: RateLimitedStack, client: httpx.Client
) -> None:
    url = stack.route("live", "/rl/live")
    wait_for_response(client, url, status=401)  # the route is there, and needs a token
    proxy = stack.envoys[0]
    workers, modified = stack.service.workers(), proxy.stat(LISTENER_MODIFIED)

    stack.policy("live", ["live"], 2)
    wait_enforced(client, url, 2, timeout=2.0)
    codes = [client.get(url, headers=player("erin")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]

    stack.plane.admin.update("rate-limit-policies", "live", policy("live", ["live"], 4))
    wait_enforced(client, url, 4, timeout=2.0)
    # Two more for the same player under the new limit: its two earlier hits still count.
    answers = [client.get(url, headers=player("erin")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]

    assert stack.service.workers() == workers, "no service process was restarted"
    assert proxy.stat(LISTENER_MODIFIED) == modified, "no listener was changed"


class _Load:
    """Requests one after another on a thread, each answer's status and time kept."""

    def __init__(self, url: str) -> None:
        self.answers: list[tuple[int, float]] = []
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def __enter__(self) -> "_Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def wait_more(self, count: int) -> None:
        target = len(self.answers) + count
        wait_until(lambda: len(self.answers) >= target, timeout=10.0, description="more load")

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            n = 0
            while not self._stop.is_set():
                started = time.perf_counter()
                status = http.get(self._url, headers=player(f"load-{n % 50}")).status_code
                self.answers.append((status, time.perf_counter() - started))
                n += 1


def test_redis_stopped_mid_load_each_failure_mode_then_recovery(
    stack: RateLimitedStack, client: httpx.Client
) -> None:
    limit, fallback = 1000, 3
    modes = {
        "allow": {"mode": "allow"},
        "deny": {"mode": "deny"},
        "local": {"mode": "local", "local_requests": fallback},
    }
    urls = {}
    for mode, on_error in modes.items():
        name = f"redis-{mode}"
        urls[mode] = stack.route(name, f"/rl/{name}")
        stack.policy(name, [name], limit, on_redis_error=on_error)
    for url in urls.values():
        wait_enforced(client, url, limit)
    proxy, workers = stack.envoys[0], stack.service.workers()
    failed = failed_calls(proxy)

    try:
        with _Load(urls["allow"]) as load:
            load.wait_more(20)
            stack.redis.process.kill()
            load.wait_more(30)
            assert stack.service.decisions("redis-allow", "redis_error_allowed") > 0

            denied = [client.get(urls["deny"], headers=player("frank")) for _ in range(3)]
            assert [a.status_code for a in denied] == [429] * 3
            # Fallback: `fallback` a window per process, and Envoy spreads over both processes.
            local = [client.get(urls["local"], headers=player("gina")) for _ in range(10)]
            admitted = [a for a in local if a.status_code == 200]
            assert fallback <= len(admitted) <= fallback * stack.service.count
            assert len(admitted) + sum(a.status_code == 429 for a in local) == len(local)
            assert local[-1].status_code == 429
            assert local[-1].headers["ratelimit-limit"] == str(fallback)

            stack.redis.start()  # same port, empty: as after a Redis restart
            # Back to Redis, with no restart: a fresh player's count starts at the policy's limit.

            def from_redis() -> httpx.Response | None:
                answer = client.get(urls["deny"], headers=player("henry"))
                return answer if answer.status_code == 200 else None

            recovered = wait_until(from_redis, timeout=5.0, description="decisions from Redis")
            assert recovered.headers["ratelimit-remaining"] == str(limit - 1)
            load.wait_more(20)
    finally:
        if not stack.redis.process.running:
            stack.redis.start()  # for the tests after this one

    assert {status for status, _ in load.answers} == {200}, "allow never refused"
    # Every decision, Redis down or not, came from the service within Envoy's timeout.
    assert failed_calls(proxy) == failed, "Envoy timed out or failed calling the service"
    slowest = max(seconds for _, seconds in load.answers)
    assert slowest < 1.0, f"slowest answer {slowest * 1000:.0f} ms"
    assert stack.service.workers() == workers


def test_an_unreachable_service_fails_as_envoy_is_told(
    stack: RateLimitedStack, client: httpx.Client, processes: ProcessGroup, tmp_path: Path
) -> None:
    """Envoy's failure_mode_deny decides: by default requests pass, with it they get 429."""
    url = stack.route("unreachable", "/rl/unreachable")
    stack.policy("unreachable", ["unreachable"], 1000)
    wait_enforced(client, url, 1000)
    # A second control plane with failure_mode_deny, pointing its Envoy at the same service.
    with scratch_database("", tmp_path) as database_url:
        strict = RateLimitedControlPlane(
            processes, database_url, stack.service.endpoints, failure_mode_deny=True
        ).start()
        port = free_port()
        strict.admin.create("listeners", listener_spec("public", port))
        strict.admin.create("services", service_spec(SERVICE, stack.upstream.port))
        strict.admin.create("jwt-providers", PLAYERS.provider_spec())
        strict.admin.create("routes", rate_limited_route("unreachable", "public", "/rl"))
        strict.admin.create("rate-limit-policies", policy("unreachable", ["unreachable"], 1000))
        strict_envoy = Envoy(processes, strict.xds_address)
        strict_url = f"http://{LOCALHOST}:{port}/rl/unreachable"
        wait_for_response(client, strict_url, status=401, alive=[strict_envoy.process])
        wait_enforced(client, strict_url, 1000, alive=[strict_envoy.process])

        stack.service.stop()
        failed = failed_calls(stack.envoys[0])
        passed = client.get(url, headers=player("ivy"))
        assert passed.status_code == 200
        assert "ratelimit-limit" not in passed.headers
        assert failed_calls(stack.envoys[0]) > failed
        assert client.get(strict_url, headers=player("ivy")).status_code == 429

        # The service back: both Envoys reconnect by themselves.
        stack.service.start()
        wait_enforced(client, url, 1000)
        wait_enforced(client, strict_url, 1000, alive=[strict_envoy.process])
        strict_envoy.close()
        strict.close()
