"""One gateway (control plane, Envoy, listener "public") shared by every test of a module, for
suites of many small checks where starting processes per test would cost most of the time.

Tests sharing it must not depend on each other: each declares its own services and routes,
with names and paths of its own.
"""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
    listener_spec,
    port_accepts,
    scratch_database,
    wait_until,
)


@dataclass
class SharedGateway:
    gateway: Gateway
    processes: ProcessGroup

    def upstream(self, name: str) -> Upstream:
        """A demo upstream, serving on return, stopped with the gateway."""
        server = Upstream(self.processes, name, free_port(), LOCALHOST)
        server.wait_serving()
        return server

    def service(self, name: str) -> Upstream:
        """A demo upstream and the service of the same name that sends to it."""
        server = self.upstream(name)
        self.gateway.add_service(name, server)
        return server

    def status(self, service: str) -> dict[str, Any]:
        """`GET /api/v1/services/{service}/status`: what the Envoys say of its endpoints."""
        response = self.gateway.admin.request("GET", f"/api/v1/services/{service}/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@contextmanager
def shared_gateway(
    tmp_path: Path, listener: Mapping[str, Any] | None = None
) -> Iterator[SharedGateway]:
    """`listener`: fields of the "public" listener besides its name, address and port."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    processes = ProcessGroup(log_dir)
    with scratch_database(os.environ.get("DATABASE_URL", ""), tmp_path) as url:
        plane = ControlPlane(processes, url)
        try:
            plane.start()
            port = free_port()
            plane.admin.create("listeners", {**(listener or {}), **listener_spec("public", port)})
            proxy = Envoy(processes, plane.xds_address)
            proxy.wait_live()
            wait_until(
                lambda: port_accepts(port),
                timeout=5.0,
                description=f"Envoy listener 'public' to accept on port {port}",
                alive=[proxy.process],
            )
            yield SharedGateway(Gateway(plane, proxy, "public", port), processes)
        finally:
            processes.stop_all()
            plane.close()
