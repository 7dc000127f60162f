"""Fixtures of the integration suite: real control plane, real Envoy, demo upstreams.

A failing test shows the last lines of the log of every process it started.
"""

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import httpx
import pytest

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

_PROCESSES = pytest.StashKey[ProcessGroup]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    group = item.stash.get(_PROCESSES, None)
    if report.failed and group is not None:
        for process in group.processes:
            report.sections.append((f"log of {process.name}", process.log_tail()))
    return report


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcessGroup]:
    """Every process a test starts; all are stopped at its end, whatever happened."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    group = ProcessGroup(log_dir)
    request.node.stash[_PROCESSES] = group
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database for one test: SQLite, or PostgreSQL when DATABASE_URL names one."""
    with scratch_database(os.environ.get("DATABASE_URL", ""), tmp_path) as url:
        yield url


@pytest.fixture
def control_plane(processes: ProcessGroup, database_url: str) -> Iterator[ControlPlane]:
    """A running control plane in development mode, ready (/readyz) when the test starts."""
    plane = ControlPlane(processes, database_url)
    try:
        yield plane.start()
    finally:
        plane.close()


EnvoyFactory = Callable[..., Envoy]


@pytest.fixture
def envoy(processes: ProcessGroup, control_plane: ControlPlane) -> Iterator[EnvoyFactory]:
    """Start Envoys attached to `control_plane`: `envoy(group="default", node_id=None,
    wait_live=True)`. With wait_live, returns once Envoy applied its first config."""
    started: list[Envoy] = []

    def start(
        group: str = "default", node_id: str | None = None, *, wait_live: bool = True
    ) -> Envoy:
        proxy = Envoy(processes, control_plane.xds_address, group=group, node_id=node_id)
        started.append(proxy)
        if wait_live:
            proxy.wait_live()
        else:
            proxy.wait_admin()
        return proxy

    try:
        yield start
    finally:
        for proxy in started:
            proxy.close()


UpstreamFactory = Callable[..., Upstream]


@pytest.fixture
def upstream(processes: ProcessGroup) -> UpstreamFactory:
    """Start demo upstreams: `upstream("inv", port=None, host="127.0.0.1")`, serving on return."""

    def start(name: str, port: int | None = None, host: str = LOCALHOST) -> Upstream:
        server = Upstream(processes, name, port or free_port(host), host)
        server.wait_serving()
        return server

    return start


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A pooled client for traffic through Envoy (keep-alive: no connection per request)."""
    with httpx.Client(timeout=5.0) as http:
        yield http


@pytest.fixture
def gateway(control_plane: ControlPlane, envoy: EnvoyFactory) -> Gateway:
    """A listener "public" declared first, then an Envoy that starts with it: when this returns,
    Envoy has applied its first config and accepts connections on the listener's port."""
    port = free_port()
    control_plane.admin.create("listeners", listener_spec("public", port))
    proxy = envoy()
    wait_until(
        lambda: port_accepts(port),
        timeout=5.0,
        description=f"Envoy listener 'public' to accept on port {port}",
        alive=[proxy.process],
    )
    return Gateway(control_plane, proxy, "public", port)
