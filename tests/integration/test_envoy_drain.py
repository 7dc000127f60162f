"""`chaosgw envoy-drain` (the chart's preStop hook) against a real Envoy: a request in flight
when the drain starts finishes, its connection is closed behind it, the hook returns once no
connection is left, and the listener stops accepting after Envoy's drain time."""

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    ControlPlane,
    Envoy,
    Gateway,
    ProcessGroup,
    Upstream,
    free_port,
    listener_spec,
    port_accepts,
    scratch_database,
    wait_until,
)

pytestmark = pytest.mark.integration

DRAIN_TIME_S = 3
SLOW_REQUEST_S = 1.5


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[Gateway, Upstream]]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    processes = ProcessGroup(log_dir)
    with scratch_database(os.environ.get("DATABASE_URL", ""), tmp_path) as url:
        plane = ControlPlane(processes, url)
        try:
            plane.start()
            port = free_port()
            plane.admin.create("listeners", listener_spec("public", port))
            proxy = Envoy(
                processes, plane.xds_address, extra_args=["--drain-time-s", str(DRAIN_TIME_S)]
            )
            proxy.wait_live()
            gateway = Gateway(plane, proxy, "public", port)
            upstream = Upstream(processes, "game", free_port(), LOCALHOST)
            upstream.wait_serving()
            gateway.add_service("game", upstream)
            gateway.add_route("game", "/", {"game": 1})
            wait_until(
                lambda: httpx.get(gateway.url("/"), timeout=1.0).status_code == 200,
                timeout=10.0,
                description="the route to answer 200",
                ignore=(httpx.TransportError,),
                alive=gateway.alive(),
            )
            yield gateway, upstream
        finally:
            processes.stop_all()
            plane.close()


def requests_in_flight(envoy: Envoy) -> int:
    """Requests Envoy's listeners are serving now (its admin interface's own left out)."""
    active = envoy.stats(r"^http\..*downstream_rq_active$")
    return sum(value for name, value in active.items() if not name.startswith("http.admin."))


def test_drain_lets_in_flight_requests_finish_then_closes(
    gateway: tuple[Gateway, Upstream],
) -> None:
    gw, upstream = gateway
    httpx.put(
        f"{upstream.url}/_upstream", json={"delay_seconds": SLOW_REQUEST_S}
    ).raise_for_status()
    responses: list[httpx.Response] = []
    with httpx.Client(timeout=10.0) as client:
        in_flight = threading.Thread(target=lambda: responses.append(client.get(gw.url("/slow"))))
        in_flight.start()
        wait_until(
            lambda: requests_in_flight(gw.envoy),
            timeout=5.0,
            description="the slow request to be in flight in Envoy",
        )
        started = time.monotonic()
        drain = subprocess.run(
            [
                CHAOSGW,
                "envoy-drain",
                f"--admin-port={gw.envoy.admin_port}",
                "--timeout-s=20",
                "--settle-s=0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        waited = time.monotonic() - started
        in_flight.join(10)

    assert drain.returncode == 0, drain.stderr
    assert "drained" in drain.stderr, drain.stderr
    # The request begun before the drain got its answer, and its connection was closed behind
    # it instead of being cut by the pod's exit.
    assert [r.status_code for r in responses] == [200]
    assert responses[0].headers.get("connection") == "close"
    assert waited < 20, "the hook waited for its bound although no connection was left"
    # After Envoy's drain time the listener takes no new connection: clients go elsewhere.
    wait_until(
        lambda: not port_accepts(gw.port),
        timeout=DRAIN_TIME_S + 10,
        description="the drained listener to stop accepting",
        alive=[gw.envoy.process],
    )


def test_open_websocket_keeps_working_and_the_hook_stops_at_its_bound(
    gateway: tuple[Gateway, Upstream],
) -> None:
    gw, _ = gateway
    bound_s = 1.5
    with connect(gw.url("/chat", scheme="ws"), open_timeout=5) as socket:
        socket.send("before")
        assert socket.recv(timeout=5) == "before"
        started = time.monotonic()
        drain = subprocess.run(
            [
                CHAOSGW,
                "envoy-drain",
                f"--admin-port={gw.envoy.admin_port}",
                f"--timeout-s={bound_s}",
                "--settle-s=0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        waited = time.monotonic() - started
        # Envoy cannot close a WebSocket with a close frame: the hook waits for it up to its
        # bound, says so, and the socket keeps carrying messages meanwhile.
        assert drain.returncode == 0, drain.stderr
        assert "1 connection(s) left" in drain.stderr, drain.stderr
        assert bound_s <= waited < bound_s + 5
        socket.send("during the drain")
        assert socket.recv(timeout=5) == "during the drain"
