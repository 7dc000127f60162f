"""Resilience declared on services, shown in the real Envoy with real upstreams: outlier
ejection (consecutive 5xx, gateway errors), retries past slow and failing endpoints, circuit
breakers, priority failover, the panic threshold."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.harness import upstream_of, wait_for_response, wait_until
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    behave,
    endpoints,
    forward_route,
    received,
    show_stack_logs,
    stack_fixture,
)

pytestmark = pytest.mark.integration


def test_dead_endpoint_is_ejected_and_no_request_fails(stack: Stack) -> None:
    a, b, c = stack.upstream("ej-a"), stack.upstream("ej-b"), stack.upstream("ej-c")
    admin, envoy = stack.gateway.admin, stack.gateway.envoy
    admin.create(
        "services",
        {
            "name": "ejecting",
            "endpoints": endpoints(a, b, c),
            "outlier_detection": {"consecutive_5xx": 2, "max_ejection_percent": 50},
            "retries": {"on": ["connect-failure", "reset"], "max_attempts": 3},
        },
    )
    admin.create("routes", forward_route("ejecting", "/ejecting", "ejecting"))
    url = stack.gateway.url("/ejecting")
    with httpx.Client(timeout=5.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
        c.kill()

        def ejected() -> bool:
            # Retries carry every request past the dead endpoint, even before its ejection.
            response = client.get(url)
            assert response.status_code == 200, response.text
            return envoy.stat("cluster.ejecting.outlier_detection.ejections_active") == 1

        wait_until(ejected, timeout=10.0, description="the dead endpoint to be ejected")
        retries = envoy.stat("cluster.ejecting.upstream_rq_retry")
        answers = [client.get(url) for _ in range(60)]

    assert {r.status_code for r in answers} == {200}
    assert Counter(upstream_of(r) for r in answers) == {"ej-a": 30, "ej-b": 30}
    # Ejected means not even tried: no request needed a retry any more.
    assert envoy.stat("cluster.ejecting.upstream_rq_retry") == retries
    (seen,) = stack.status("ejecting")["envoys"]
    assert seen["reachable"] is True
    assert seen["ejections_active"] == 1
    hosts = {host["address"]: host for host in seen["hosts"]}
    assert hosts[f"127.0.0.1:{c.port}"]["ejected"] is True
    assert hosts[f"127.0.0.1:{c.port}"]["healthy"] is False
    assert hosts[f"127.0.0.1:{a.port}"]["healthy"] is True


def test_slow_and_failing_endpoints_are_retried_on_another(stack: Stack) -> None:
    fast, slow = stack.upstream("retry-fast"), stack.upstream("retry-slow")
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "retrying",
            "endpoints": endpoints(fast, slow),
            "retries": {"on": ["5xx"], "max_attempts": 2, "per_try_timeout_seconds": 0.3},
        },
    )
    admin.create("routes", forward_route("retrying", "/retrying", "retrying"))
    url = stack.gateway.url("/retrying")
    with httpx.Client(timeout=5.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())

        behave(slow, delay_seconds=5)
        tried = received(slow)
        started = time.monotonic()
        answers = [client.get(url) for _ in range(6)]
        elapsed = time.monotonic() - started
        # Round robin sent about half of the first tries to the slow one.
        assert received(slow) - tried >= 2
        assert [(r.status_code, upstream_of(r)) for r in answers] == [(200, "retry-fast")] * 6
        # Each request waited at most one per-try timeout, never the slow upstream's 5 s.
        assert elapsed < 6 * 0.3 + 1.0, elapsed

        behave(slow, status=503)
        tried = received(slow)
        answers = [client.get(url) for _ in range(6)]
        assert received(slow) - tried >= 2
        assert [(r.status_code, upstream_of(r)) for r in answers] == [(200, "retry-fast")] * 6


def test_open_circuit_breaker_answers_503_at_once_and_shows_in_status(stack: Stack) -> None:
    slow = stack.upstream("breaker")
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "breaking",
            "endpoints": endpoints(slow),
            "circuit_breakers": {"max_requests": 1, "max_pending_requests": 1},
        },
    )
    admin.create("routes", forward_route("breaking", "/breaking", "breaking"))
    url = stack.gateway.url("/breaking")
    with httpx.Client(timeout=10.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
        assert stack.status("breaking")["envoys"][0]["open_circuit_breakers"] == []
        behave(slow, delay_seconds=2)
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(client.get, url)
            wait_until(
                lambda: (
                    "requests" in stack.status("breaking")["envoys"][0]["open_circuit_breakers"]
                ),
                timeout=5.0,
                description="the requests circuit breaker to show open",
            )
            for _ in range(3):
                started = time.monotonic()
                refused = client.get(url)
                assert refused.status_code == 503, refused.text
                assert refused.headers.get("x-envoy-overloaded") == "true"
                assert time.monotonic() - started < 0.5
            assert first.result().status_code == 200
    behave(slow)
    assert stack.status("breaking")["envoys"][0]["open_circuit_breakers"] == []


def test_backup_priority_serves_only_while_the_primary_is_unhealthy(stack: Stack) -> None:
    primary, backup = stack.upstream("primary"), stack.upstream("backup")
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "regions",
            "endpoints": endpoints(primary) + endpoints(backup, priority=1),
            "health_check": {
                "path": "/healthz",
                "interval_seconds": 0.2,
                "timeout_seconds": 0.5,
                "healthy_threshold": 1,
                "unhealthy_threshold": 1,
            },
        },
    )
    admin.create("routes", forward_route("regions", "/regions", "regions"))
    url = stack.gateway.url("/regions")
    with httpx.Client(timeout=5.0) as client:

        def all_from(name: str) -> None:
            answers = [client.get(url) for _ in range(20)]
            assert [(r.status_code, upstream_of(r)) for r in answers] == [(200, name)] * 20

        wait_for_response(client, url, upstream="primary", alive=stack.gateway.alive())
        all_from("primary")

        behave(primary, status=503)
        wait_for_response(client, url, upstream="backup", timeout=5.0)
        all_from("backup")
        hosts = {h["address"]: h for h in stack.status("regions")["envoys"][0]["hosts"]}
        assert hosts[f"127.0.0.1:{primary.port}"]["failed_health_check"] is True
        assert hosts[f"127.0.0.1:{backup.port}"]["priority"] == 1

        behave(primary)
        wait_for_response(client, url, upstream="primary", timeout=5.0)
        all_from("primary")


def test_panic_threshold_spreads_over_unhealthy_endpoints_and_zero_disables_it(
    stack: Stack,
) -> None:
    a, b, c = stack.upstream("panic-a"), stack.upstream("panic-b"), stack.upstream("panic-c")
    admin, envoy = stack.gateway.admin, stack.gateway.envoy
    checks = {
        "path": "/healthz",
        "interval_seconds": 0.2,
        "timeout_seconds": 0.5,
        "healthy_threshold": 1,
        "unhealthy_threshold": 1,
    }
    # The same three endpoints behind two services: one panics below 50 % healthy, one never.
    for name, threshold in (("panicking", 50), ("trusting", 0)):
        admin.create(
            "services",
            {
                "name": name,
                "endpoints": endpoints(a, b, c),
                "health_check": checks,
                "panic_threshold_percent": threshold,
            },
        )
        admin.create("routes", forward_route(name, f"/{name}", name))
    panicking, trusting = stack.gateway.url("/panicking"), stack.gateway.url("/trusting")
    everyone = {"panic-a", "panic-b", "panic-c"}
    with httpx.Client(timeout=5.0) as client:

        def answers(url: str, count: int = 30) -> Counter[tuple[int, str | None]]:
            return Counter(
                (r.status_code, upstream_of(r)) for r in (client.get(url) for _ in range(count))
            )

        def all_healthy_everywhere() -> bool:
            # Both clusters pass their checks: no panic yet, round robin over all three.
            return all(
                set(answers(url, 6)) == {(200, name) for name in everyone}
                for url in (panicking, trusting)
            )

        wait_for_response(client, trusting, alive=stack.gateway.alive())
        wait_until(
            all_healthy_everywhere,
            timeout=5.0,
            description="both services to spread over three healthy endpoints",
            ignore=(httpx.TransportError,),
            alive=stack.gateway.alive(),
        )
        assert envoy.stat("cluster.panicking.lb_healthy_panic") == 0

        behave(b, status=503)
        behave(c, status=503)

        def failed(service: str) -> bool:
            (seen,) = stack.status(service)["envoys"]
            hosts = {host["address"]: host for host in seen["hosts"]}
            return all(
                hosts[f"127.0.0.1:{u.port}"]["failed_health_check"] is (u is not a)
                for u in (a, b, c)
            )

        wait_until(
            lambda: failed("panicking") and failed("trusting"),
            timeout=5.0,
            description="two of three endpoints to fail their health checks in both services",
            alive=stack.gateway.alive(),
        )
        # The admin shows a health change a little before the workers act on it.
        wait_until(
            lambda: set(answers(trusting, 9)) == {(200, "panic-a")},
            timeout=5.0,
            description="the trusting service to send everything to the healthy endpoint",
        )

        def in_panic() -> bool:
            client.get(panicking)
            return envoy.stat("cluster.panicking.lb_healthy_panic") > 0

        wait_until(in_panic, timeout=5.0, description="the panicking service to enter panic")

        # 1 healthy of 3 (33 %) is below 50 %: health is ignored, the failing ones get traffic.
        panics = envoy.stat("cluster.panicking.lb_healthy_panic")
        assert panics > 0
        assert answers(panicking) == {
            (200, "panic-a"): 10,
            (503, "panic-b"): 10,
            (503, "panic-c"): 10,
        }
        assert envoy.stat("cluster.panicking.lb_healthy_panic") == panics + 30
        # Panic disabled: the same situation sends everything to the one healthy endpoint.
        assert answers(trusting) == {(200, "panic-a"): 30}
        assert envoy.stat("cluster.trusting.lb_healthy_panic") == 0
    behave(b)
    behave(c)


def test_gateway_errors_eject_an_endpoint_and_traffic_continues_on_the_others(
    stack: Stack,
) -> None:
    a, b, c = stack.upstream("gw-a"), stack.upstream("gw-b"), stack.upstream("gw-c")
    admin, envoy = stack.gateway.admin, stack.gateway.envoy
    admin.create(
        "services",
        {
            "name": "gateway-errors",
            "endpoints": endpoints(a, b, c),
            # Only gateway errors eject; plain 5xx counting is off.
            "outlier_detection": {
                "consecutive_5xx": None,
                "consecutive_gateway_errors": 3,
                "max_ejection_percent": 50,
            },
        },
    )
    admin.create("routes", forward_route("gateway-errors", "/gateway-errors", "gateway-errors"))
    url = stack.gateway.url("/gateway-errors")
    stat = "cluster.gateway-errors.outlier_detection.ejections_enforced_consecutive_gateway_failure"
    with httpx.Client(timeout=5.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
        behave(c, status=503)
        failures: Counter[int] = Counter()

        def ejected() -> bool:
            response = client.get(url)
            failures[response.status_code] += 1
            return envoy.stat(stat) == 1

        wait_until(ejected, timeout=5.0, description="the failing endpoint to be ejected")
        # Ejected on its third 503 in a row, not before: nothing else failed.
        assert failures[503] == 3, failures
        assert set(failures) <= {200, 503}
        answers = [client.get(url) for _ in range(60)]

    assert Counter((r.status_code, upstream_of(r)) for r in answers) == {
        (200, "gw-a"): 30,
        (200, "gw-b"): 30,
    }
    assert envoy.stat("cluster.gateway-errors.outlier_detection.ejections_active") == 1
    assert (
        envoy.stat("cluster.gateway-errors.outlier_detection.ejections_enforced_consecutive_5xx")
        == 0
    )
    (seen,) = stack.status("gateway-errors")["envoys"]
    assert seen["ejections_active"] == 1
    hosts = {host["address"]: host for host in seen["hosts"]}
    assert hosts[f"127.0.0.1:{c.port}"]["ejected"] is True
    assert hosts[f"127.0.0.1:{c.port}"]["healthy"] is False
    assert hosts[f"127.0.0.1:{a.port}"]["ejected"] is False
    behave(c)
