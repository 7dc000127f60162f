"""Upgrades without Kubernetes: control-plane replicas on one PostgreSQL are replaced one by one
as a rollout replaces pods, after the migration ran; Envoy keeps serving throughout and the
versions it ACKed do not move."""

import os
import secrets
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    AdminClient,
    ControlPlane,
    Envoy,
    ProcessGroup,
    free_port,
    listener_spec,
    route_spec,
    service_spec,
    wait_for_response,
    wait_until,
)
from tests.integration.test_restart import UPDATE_COUNTERS, Traffic, acked_versions

pytestmark = pytest.mark.integration


class Replica(ControlPlane):
    """A production control plane sharing the xDS port of its peers, as pods behind one
    Service: gRPC binds with SO_REUSEPORT, so a new replica listens next to the old ones and
    Envoy's next connection reaches whichever is still there. It never migrates at start."""

    def __init__(
        self, processes: ProcessGroup, database_url: str, token: str, xds_port: int
    ) -> None:
        super().__init__(processes, database_url)
        self.admin.close()
        self.token, self.admin = token, AdminClient(self.admin_url, token)
        self.xds_port, self.xds_address = xds_port, f"{LOCALHOST}:{xds_port}"

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "CHAOSGW_MODE": "production",
            "CHAOSGW_MIGRATE_ON_START": "false",
            "CHAOSGW_API_KEY_SECRET": "rollout-test-api-key-secret-0123456789abcdef",
            "CHAOSGW_XDS_PLAINTEXT_REASON": "rollout test on loopback only",
        }


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "a rollout needs replicas sharing PostgreSQL: run with "
            "DATABASE_URL=postgresql+psycopg://... (as .ci/run's second pass does)"
        )
    return database_url


def migrate(database_url: str) -> None:
    """`chaosgw migrate`, as the chart's pre-upgrade Job runs it before new pods start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
    result = subprocess.run(
        [CHAOSGW, "migrate"],
        env={**env, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def replicas(processes: ProcessGroup, postgres_url: str) -> Iterator[list[Replica]]:
    """Started by the test; closed at its end."""
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.close()


@pytest.fixture
def xds_port() -> int:
    return free_port()


@pytest.fixture
def proxy(processes: ProcessGroup, xds_port: int) -> Iterator[Envoy]:
    """An Envoy whose control plane is whichever replica listens on the shared xDS port."""
    envoy = Envoy(processes, f"{LOCALHOST}:{xds_port}")
    yield envoy
    envoy.close()


def test_envoy_serves_through_a_control_plane_rollout_with_its_acked_versions_unchanged(
    processes: ProcessGroup,
    postgres_url: str,
    replicas: list[Replica],
    xds_port: int,
    upstream: UpstreamFactory,
    client: httpx.Client,
    request: pytest.FixtureRequest,
) -> None:
    token = secrets.token_urlsafe(32)

    def replica() -> Replica:
        started = Replica(processes, postgres_url, token, xds_port)
        replicas.append(started)
        started.start()
        return started

    migrate(postgres_url)
    old = [replica(), replica()]
    port = free_port()
    old[0].admin.create("listeners", listener_spec("public", port))
    old[0].admin.create("services", service_spec("inv", upstream("inv").port))
    old[0].admin.create("routes", route_spec("inv", "public", "/inv", {"inv": 1}))
    # Envoy starts once its config is declared, as in a running deployment.
    envoy: Envoy = request.getfixturevalue("proxy")
    envoy.wait_live()
    url = f"http://{LOCALHOST}:{port}"
    wait_for_response(client, f"{url}/inv", upstream="inv", alive=[envoy.process])

    def serving() -> Replica | None:
        """The running replica Envoy is connected to, once it ACKed every type there."""
        running = [r for r in replicas if r.process is not None and r.process.running]
        return next((r for r in running if acked_versions(r.admin, envoy.node_id)), None)

    first = wait_until(serving, timeout=10.0, description="Envoy to ACK every type")
    before = acked_versions(first.admin, envoy.node_id)
    counters_before = {name: envoy.stat(name) for name in UPDATE_COUNTERS}
    dump_before = (envoy.cluster_versions(), envoy.route_config_versions())
    connections_before = envoy.stat("cluster.xds.upstream_cx_total")

    traffic = Traffic(f"{url}/inv/items")
    traffic.start()
    try:
        traffic.wait_for_more(50, "before the rollout")
        # The new release's migration runs first; the old replicas keep serving on its schema.
        migrate(postgres_url)
        for retiring in old:
            replica()
            assert retiring.stop(timeout=10.0) == 0
            traffic.wait_for_more(50, "after a replica was replaced")
        # Envoy lost its stream to an old replica and found a new one.
        now = wait_until(
            serving,
            timeout=10.0,
            description="Envoy connected to a new replica, every type ACKed there",
        )
        assert now not in old
        assert acked_versions(now.admin, envoy.node_id) == before
        traffic.wait_for_more(50, "after the rollout")
    finally:
        traffic.stop()

    assert traffic.failures == [], f"{len(traffic.failures)} failed: {traffic.failures[:5]}"
    assert envoy.stat("cluster.xds.upstream_cx_total") > connections_before
    # Same content, same versions: the new replicas pushed Envoy nothing at all.
    assert {name: envoy.stat(name) for name in UPDATE_COUNTERS} == counters_before
    assert (envoy.cluster_versions(), envoy.route_config_versions()) == dump_before
