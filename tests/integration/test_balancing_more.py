"""More balancing and resilience in the real Envoy: ring hash on the client's address,
success-rate outlier ejection, and a retry budget that caps concurrent retries."""

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

# Clients bound to these loopback addresses (all of 127.0.0.0/8 is loopback on Linux) are
# distinct players to Envoy.
SOURCES = [f"127.0.0.{n}" for n in range(1, 13)]


def test_ring_hash_on_source_ip_keeps_each_client_on_one_endpoint(stack: Stack) -> None:
    shards = [stack.upstream(f"ip-shard-{n}") for n in range(3)]
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "by-ip",
            "endpoints": endpoints(*shards),
            "load_balancing": "ring_hash",
            "hash_on": [{"type": "source_ip"}],
        },
    )
    admin.create("routes", forward_route("by-ip", "/by-ip", "by-ip"))
    url = stack.gateway.url("/by-ip")
    with httpx.Client() as client:
        wait_for_response(client, url, alive=stack.gateway.alive())

    chosen = {}
    for source in SOURCES:
        # A new connection per request: the hash must not depend on the connection.
        landed = set()
        for _ in range(3):
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(transport=transport, timeout=5.0) as client:
                landed.add(upstream_of(client.get(url)))
        assert len(landed) == 1, f"{source} landed on {landed}"
        chosen[source] = landed.pop()

    assert len(set(chosen.values())) >= 2, chosen


def test_success_rate_ejects_the_endpoint_failing_far_more_than_the_others(stack: Stack) -> None:
    good = [stack.upstream(f"sr-good-{n}") for n in range(2)]
    bad = stack.upstream("sr-bad")
    admin, envoy = stack.gateway.admin, stack.gateway.envoy
    admin.create(
        "services",
        {
            "name": "success-rate",
            "endpoints": endpoints(*good, bad),
            "outlier_detection": {
                # Only the success-rate detector: nothing ejects on errors in a row.
                "consecutive_5xx": None,
                "success_rate": {"minimum_hosts": 3, "request_volume": 10, "stdev_factor": 0.5},
                "interval_seconds": 0.5,
                "base_ejection_seconds": 30,
                "max_ejection_percent": 50,
            },
        },
    )
    admin.create("routes", forward_route("success-rate", "/success-rate", "success-rate"))
    url = stack.gateway.url("/success-rate")
    with httpx.Client(timeout=5.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
        behave(bad, status=503)

        def ejected() -> bool:
            # Enough requests per interval for every endpoint's rate to count.
            for _ in range(15):
                client.get(url)
            return envoy.stat("cluster.success-rate.outlier_detection.ejections_active") == 1

        wait_until(ejected, timeout=10.0, description="the failing endpoint to be ejected")
        answers = Counter(
            (r.status_code, upstream_of(r)) for r in (client.get(url) for _ in range(30))
        )

    assert answers == {(200, "sr-good-0"): 15, (200, "sr-good-1"): 15}
    assert envoy.stat("cluster.success-rate.outlier_detection.ejections_enforced_success_rate") == 1
    assert (
        envoy.stat("cluster.success-rate.outlier_detection.ejections_enforced_consecutive_5xx") == 0
    )


def test_retry_budget_caps_concurrent_retries(stack: Stack) -> None:
    failing = stack.upstream("budget")
    admin, envoy = stack.gateway.admin, stack.gateway.envoy
    admin.create(
        "services",
        {
            "name": "budgeted",
            "endpoints": endpoints(failing),
            "retries": {"on": ["5xx"], "max_attempts": 3},
            # 10 % of 10 requests in flight: one retry at a time.
            "circuit_breakers": {
                "retry_budget": {"budget_percent": 10, "min_retry_concurrency": 1}
            },
        },
    )
    admin.create("routes", forward_route("budgeted", "/budgeted", "budgeted"))
    url = stack.gateway.url("/budgeted")
    with httpx.Client(timeout=5.0) as client:
        wait_for_response(client, url, alive=stack.gateway.alive())
    # Slow failures: all ten requests are in flight together when they want their retries.
    behave(failing, status=503, delay_seconds=0.5)
    before = received(failing)
    concurrent = 10
    with (
        ThreadPoolExecutor(max_workers=concurrent) as pool,
        httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=concurrent)) as client,
    ):
        answers = list(pool.map(lambda _: client.get(url).status_code, range(concurrent)))

    assert answers == [503] * concurrent
    retried = envoy.stat("cluster.budgeted.upstream_rq_retry")
    overflowed = envoy.stat("cluster.budgeted.upstream_rq_retry_overflow")
    # Without a budget each request would be tried 3 times (30 arrivals). With it, the first
    # failures want 10 retries at once and the budget lets one through (measured: 2 retries
    # made, the second after the first ended, and 9 refused).
    assert overflowed >= concurrent // 2, (retried, overflowed)
    assert retried <= concurrent // 2, (retried, overflowed)
    # Refused retries are not made: the upstream saw only first tries and budgeted retries.
    assert received(failing) - before == concurrent + retried
