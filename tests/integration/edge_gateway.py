"""One gateway per test module: a control plane, an Envoy and an echo upstream, started once
and shared by the module's tests (each test declares its own routes)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.harness import (
    LOCALHOST,
    ControlPlane,
    Envoy,
    Gateway,
    ProcessGroup,
    Upstream,
    free_port,
    port_accepts,
    scratch_database,
    service_spec,
    wait_until,
)


@contextmanager
def shared_gateway(tmp: Path, listener: dict[str, Any]) -> Iterator[Gateway]:
    """`listener` (without name and port) declared as "public", with service "echo" behind it."""
    logs = tmp / "logs"
    logs.mkdir()
    processes = ProcessGroup(logs)
    with scratch_database(os.environ.get("DATABASE_URL", ""), tmp) as database_url:
        plane = ControlPlane(processes, database_url)
        try:
            plane.start()
            echo = Upstream(processes, "echo", free_port(), LOCALHOST)
            echo.wait_serving()
            plane.admin.create("services", service_spec("echo", echo.port))
            port = free_port()
            plane.admin.create(
                "listeners", {**listener, "name": "public", "port": port, "address": LOCALHOST}
            )
            envoy = Envoy(processes, plane.xds_address)
            envoy.wait_live()
            wait_until(
                lambda: port_accepts(port),
                timeout=5.0,
                description=f"Envoy listener 'public' on port {port}",
                alive=[envoy.process],
            )
            yield Gateway(plane, envoy, "public", port)
        finally:
            plane.close()
            processes.stop_all()


def edge_route(name: str, prefix: str, **policies: Any) -> dict[str, Any]:
    return {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": "echo"}]},
        **policies,
    }
