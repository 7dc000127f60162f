"""One control plane and one Envoy shared by all tests of a module, and control of the demo
upstreams' behaviour (slow, failing) while they run.

A test module uses them with `from tests.integration.stack import show_stack_logs,
stack_fixture` and takes a `stack` argument.

Starting a control plane and an Envoy costs seconds; tests that each declare their own services
and routes (under their own path prefix) can share them.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.conftest import _PROCESSES
from tests.integration.harness import (
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


@dataclass
class Stack:
    gateway: Gateway
    processes: ProcessGroup

    def upstream(self, name: str) -> Upstream:
        server = Upstream(self.processes, name, free_port(), LOCALHOST)
        server.wait_serving()
        return server

    def status(self, service: str) -> dict[str, Any]:
        response = self.gateway.admin.request("GET", f"/api/v1/services/{service}/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module", name="stack")
def stack_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    (tmp / "logs").mkdir()
    processes = ProcessGroup(tmp / "logs")
    try:
        with scratch_database(os.environ.get("DATABASE_URL", ""), tmp) as database_url:
            plane = ControlPlane(processes, database_url).start()
            port = free_port()
            plane.admin.create("listeners", listener_spec("public", port))
            proxy = Envoy(processes, plane.xds_address)
            proxy.wait_live()
            wait_until(
                lambda: port_accepts(port),
                timeout=5.0,
                description=f"Envoy listener 'public' on port {port}",
                alive=[proxy.process],
            )
            yield Stack(Gateway(plane, proxy, "public", port), processes)
            proxy.close()
            plane.close()
    finally:
        processes.stop_all()


@pytest.fixture(autouse=True)
def show_stack_logs(request: pytest.FixtureRequest) -> None:
    """A failing test shows the logs of the shared processes (see conftest.py)."""
    if "stack" in request.fixturenames:
        request.node.stash[_PROCESSES] = request.getfixturevalue("stack").processes


def behave(upstream: Upstream, *, status: int = 200, delay_seconds: float = 0.0) -> None:
    """Make every later request to `upstream` wait `delay_seconds`, then answer `status`."""
    response = httpx.put(
        f"{upstream.url}/_upstream",
        json={"status": status, "delay_seconds": delay_seconds},
        timeout=2.0,
    )
    assert response.status_code == 200, response.text


def received(upstream: Upstream) -> int:
    """How many requests reached `upstream` (control requests excepted)."""
    count: int = httpx.get(f"{upstream.url}/_upstream", timeout=2.0).json()["received"]
    return count


def forward_route(name: str, prefix: str, service: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": service}]},
        **fields,
    }


def endpoints(*upstreams: Upstream, priority: int = 0) -> list[dict[str, Any]]:
    return [{"host": u.host, "port": u.port, "priority": priority} for u in upstreams]
