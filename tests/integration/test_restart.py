"""Envoy keeps serving while the control plane is down, and a restarted control plane that
finds the config it already served pushes nothing."""

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    AdminClient,
    Gateway,
    upstream_of,
    wait_for_response,
    wait_until,
)

pytestmark = pytest.mark.integration

TYPES = (CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE)
# Envoy's own record of config it accepted; a push of anything would move one of these.
UPDATE_COUNTERS = (
    "cluster_manager.cds.update_success",
    "listener_manager.lds.update_success",
    "http.public.rds.public.update_success",
    "cluster.inv.update_success",  # EDS of the cluster
    "cluster_manager.cluster_modified",
    "listener_manager.listener_modified",
)
MAX_REQUESTS = 20_000  # bound on the background traffic, whatever happens


@dataclass
class Traffic:
    """Requests sent in a loop from a thread until stopped; every failure is kept."""

    url: str
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            assert not self._thread.is_alive(), "traffic thread did not stop"

    def _loop(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            for _ in range(MAX_REQUESTS):
                if self._stop.is_set():
                    return
                try:
                    response = client.get(self.url)
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    continue
                if response.status_code == 200 and upstream_of(response) == "inv":
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} from {upstream_of(response)}")

    def wait_for_more(self, count: int, why: str) -> None:
        target = self.ok + count
        wait_until(
            lambda: self.ok >= target or self._thread is None or not self._thread.is_alive(),
            timeout=10.0,
            description=f"{count} more successful requests {why}",
        )
        assert self.ok >= target, f"traffic stopped early: {self.ok} ok, {self.failures[:5]}"


def acked_versions(admin: AdminClient, node_id: str) -> dict[str, Any] | None:
    """The version of every type the connected node ACKed, once it ACKed them all."""
    node = admin.node(node_id)
    if node is None or not node["connected"]:
        return None
    acked = {t["type_url"]: t["acked_version"] for t in node["types"] if t["type_url"] in TYPES}
    return acked if len(acked) == len(TYPES) and all(acked.values()) else None


def test_envoy_serves_through_a_control_plane_crash_and_gets_no_push_after(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    gateway.add_service("inv", upstream("inv"))
    gateway.add_route("inv", "/inv", {"inv": 1})
    wait_for_response(client, gateway.url("/inv"), upstream="inv", alive=gateway.alive())
    envoy = gateway.envoy

    # Settled: the node ACKed every type (the route was the last push).
    before = wait_until(
        lambda: acked_versions(gateway.admin, gateway.envoy.node_id),
        timeout=5.0,
        description="the node to have ACKed clusters, endpoints, listeners and routes",
    )
    counters_before = {name: envoy.stat(name) for name in UPDATE_COUNTERS}
    assert counters_before["http.public.rds.public.update_success"] >= 1
    dump_before = (envoy.cluster_versions(), envoy.route_config_versions())

    traffic = Traffic(gateway.url("/inv/items"))
    traffic.start()
    try:
        traffic.wait_for_more(50, "before the crash")

        gateway.control_plane.kill()
        wait_until(
            lambda: envoy.stat("control_plane.connected_state") == 0,
            timeout=10.0,
            description="Envoy to notice the control plane is gone",
            alive=[envoy.process],
        )
        traffic.wait_for_more(100, "while the control plane is down")

        gateway.control_plane.start()
        wait_until(
            lambda: envoy.stat("control_plane.connected_state") == 1,
            timeout=10.0,
            description="Envoy to reconnect to the restarted control plane",
            alive=gateway.alive(),
        )
        # The new control plane learned from the node's requests what it already holds.
        wait_until(
            lambda: acked_versions(gateway.admin, gateway.envoy.node_id) == before,
            timeout=5.0,
            description=f"the restarted control plane to see the versions {before} ACKed",
            alive=gateway.alive(),
        )
        traffic.wait_for_more(100, "after the restart")
    finally:
        traffic.stop()

    assert traffic.failures == [], f"{len(traffic.failures)} failed: {traffic.failures[:5]}"
    # Envoy accepted no new config at all, and holds what it held before.
    assert {name: envoy.stat(name) for name in UPDATE_COUNTERS} == counters_before
    assert (envoy.cluster_versions(), envoy.route_config_versions()) == dump_before
    node = gateway.admin.node(envoy.node_id)
    assert node is not None
    assert all(t["nacked_version"] is None for t in node["types"]), node


def test_control_plane_stops_cleanly_on_sigterm_with_envoy_connected(gateway: Gateway) -> None:
    envoy = gateway.envoy
    wait_until(
        lambda: envoy.stat("control_plane.connected_state") == 1,
        timeout=5.0,
        description="Envoy connected to the control plane",
    )
    # Within 5 s, or the harness escalates to SIGKILL and the exit code says so.
    assert gateway.control_plane.stop(timeout=5.0) == 0
    # Envoy sees the stream end and keeps running on what it has.
    wait_until(
        lambda: envoy.stat("control_plane.connected_state") == 0,
        timeout=5.0,
        description="Envoy to notice the control plane stopped",
        alive=[envoy.process],
    )
    assert envoy.is_live()
