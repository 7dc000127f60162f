"""Active health checks with real traffic: gRPC (grpc.health.v1 answered by real gRPC upstreams)
and TCP (a stopped upstream), as Envoy applies them to the requests of clients."""

from collections import Counter
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest

from tests.integration.grpc_upstream import ECHO, GrpcUpstream
from tests.integration.harness import upstream_of, wait_for_response, wait_until
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    endpoints,
    forward_route,
    show_stack_logs,
    stack_fixture,
)

pytestmark = pytest.mark.integration

# Fast checks; one failed check takes an endpoint out, one passed brings it back. Panic off:
# with half the endpoints out Envoy must still trust the checks.
FAST_CHECKS = {
    "interval_seconds": 0.2,
    "timeout_seconds": 0.5,
    "healthy_threshold": 1,
    "unhealthy_threshold": 1,
}


def host_status(stack: Stack, service: str, port: int) -> tuple[bool, bool]:
    """What the admin API reports of the endpoint on `port`: (failed its health check,
    gets traffic)."""
    (envoy,) = stack.status(service)["envoys"]
    hosts = {host["address"]: host for host in envoy["hosts"]}
    host = hosts[f"127.0.0.1:{port}"]
    return host["failed_health_check"], host["healthy"]


def spread(ask: Callable[[], str], requests: int = 20) -> Counter[str]:
    return Counter(ask() for _ in range(requests))


def wait_spread(stack: Stack, ask: Callable[[], str], answers: set[str], **kwargs: Any) -> None:
    """Until a sample of requests gets exactly these answers. Envoy's admin shows a health
    change a little before the workers' load balancers act on it: traffic is what counts."""
    wait_until(
        lambda: set(spread(ask)) == answers,
        timeout=5.0,
        description=f"requests to be answered by {sorted(answers)}",
        alive=stack.gateway.alive(),
        **kwargs,
    )


def test_grpc_health_check_takes_a_not_serving_host_out_and_back(stack: Stack) -> None:
    a, b = GrpcUpstream(stack.processes, "hc-a"), GrpcUpstream(stack.processes, "hc-b")
    a.wait_serving()
    b.wait_serving()
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "grpc-checked",
            "protocol": "grpc",
            "endpoints": [{"host": "127.0.0.1", "port": u.port} for u in (a, b)],
            "health_check": {"type": "grpc", **FAST_CHECKS},
            "panic_threshold_percent": 0,
        },
    )
    admin.create("routes", forward_route("grpc-checked", "/chaosgw.test.Upstream/", "grpc-checked"))
    # A gRPC client of the gateway: HTTP/2 to Envoy's listener.
    with grpc.insecure_channel(f"127.0.0.1:{stack.gateway.port}") as channel:
        echo = channel.unary_unary(ECHO, None, None)

        def ask() -> str:
            answer: bytes = echo(b"x", timeout=2.0)
            return answer.decode().split(":")[0]

        wait_spread(stack, ask, {"hc-a", "hc-b"}, ignore=(grpc.RpcError,))

        a.set_serving("NOT_SERVING")
        wait_spread(stack, ask, {"hc-b"})
        assert host_status(stack, "grpc-checked", a.port) == (True, False)
        assert spread(ask) == {"hc-b": 20}

        a.set_serving("SERVING")
        wait_spread(stack, ask, {"hc-a", "hc-b"})
        assert host_status(stack, "grpc-checked", a.port) == (False, True)
        assert spread(ask) == {"hc-a": 10, "hc-b": 10}
    a.close()
    b.close()


def test_tcp_health_check_keeps_traffic_off_a_stopped_upstream(stack: Stack) -> None:
    up, down = stack.upstream("tcp-up"), stack.upstream("tcp-down")
    admin = stack.gateway.admin
    admin.create(
        "services",
        {
            "name": "tcp-checked",
            "endpoints": endpoints(up, down),
            "health_check": {"type": "tcp", **FAST_CHECKS},
            "panic_threshold_percent": 0,
        },
    )
    admin.create("routes", forward_route("tcp-checked", "/tcp-checked", "tcp-checked"))
    url = stack.gateway.url("/tcp-checked")
    with httpx.Client(timeout=5.0) as client:

        def ask() -> str:
            response = client.get(url)
            return f"{response.status_code} {upstream_of(response)}"

        wait_for_response(client, url, upstream="tcp-down", alive=stack.gateway.alive())

        down.stop()
        wait_spread(stack, ask, {"200 tcp-up"})
        assert host_status(stack, "tcp-checked", down.port) == (True, False)
        # No request is sent to the stopped one, so none fails.
        assert spread(ask) == {"200 tcp-up": 20}

        down.start()
        wait_spread(stack, ask, {"200 tcp-up", "200 tcp-down"})
        assert host_status(stack, "tcp-checked", down.port) == (False, True)
        assert spread(ask) == {"200 tcp-up": 10, "200 tcp-down": 10}
