"""xDS over mTLS against the real Envoy and a real control plane: a node with its group's
certificate is configured and carries traffic; one with another group's certificate, another
CA's, or none gets no resource at all; no private key reaches a log."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controlplane.translator import ratelimits
from tests.integration.harness import (
    LOCALHOST,
    ControlPlane,
    Envoy,
    ProcessGroup,
    Upstream,
    free_port,
    listener_spec,
    route_spec,
    service_spec,
    upstream_of,
    wait_until,
)
from tests.integration.ratelimit_service import RateLimitService, ratelimit_env
from tlsfiles.generate import Plan, envoy_dir, generate

pytestmark = pytest.mark.integration

OTHER = "other"


class TlsControlPlane(ControlPlane):
    """The harness's control plane, serving xDS with the certificates of `tls_dir`."""

    def __init__(
        self,
        processes: ProcessGroup,
        database_url: str,
        tls_dir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(processes, database_url)
        self.tls_dir = tls_dir
        self.extra_env = extra_env or {}

    def env(self) -> dict[str, str]:
        return {**super().env(), "CHAOSGW_XDS_TLS_DIR": str(self.tls_dir), **self.extra_env}

    def refused(self, reason: str) -> float:
        text = httpx.get(f"{self.admin_url}/metrics", timeout=2.0).text
        prefix = f'chaosgw_xds_refused_streams_total{{reason="{reason}"}} '
        values = [
            float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
        ]
        return values[0] if values else 0.0


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    generate(tmp_path / "certs", Plan(("default", OTHER)))
    generate(tmp_path / "foreign", Plan(("default",)))
    return tmp_path


@pytest.fixture
def plane(
    processes: ProcessGroup, database_url: str, certificates: Path
) -> Iterator[TlsControlPlane]:
    control_plane = TlsControlPlane(
        processes, database_url, certificates / "certs" / "controlplane"
    )
    try:
        control_plane.start()
        yield control_plane
    finally:
        control_plane.close()


def test_a_node_with_its_groups_certificate_is_configured_and_carries_traffic(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path
) -> None:
    upstream = Upstream(processes, "echo", free_port(), LOCALHOST)
    upstream.wait_serving()
    port = free_port()
    plane.admin.create("listeners", listener_spec("public", port))
    plane.admin.create("services", service_spec("echo", upstream.port))
    plane.admin.create("routes", route_spec("echo", "public", "/", {"echo": 100}))
    envoy = Envoy(
        processes, plane.xds_address, tls_dir=certificates / "certs" / envoy_dir("default")
    )
    envoy.wait_live()
    response = wait_until(
        lambda: _routed(f"http://{LOCALHOST}:{port}/hello"),
        timeout=10,
        description="a request routed through the mTLS-configured Envoy",
        alive=[envoy.process],
    )
    assert upstream_of(response) == "echo"
    assert plane.refused("other_group") == 0
    envoy.close()


def _routed(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


@pytest.mark.parametrize("client", ["other_group", "foreign_ca", "no_certificate"])
def test_a_node_without_its_groups_certificate_gets_nothing(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path, client: str
) -> None:
    plane.admin.create("listeners", listener_spec("public", free_port()))
    tls_dir = {
        "other_group": certificates / "certs" / envoy_dir(OTHER),
        "foreign_ca": certificates / "foreign" / envoy_dir("default"),
        # The bootstrap's TLS needs a client certificate: plaintext is what has none.
        "no_certificate": None,
    }[client]
    envoy = Envoy(processes, plane.xds_address, tls_dir=tls_dir)
    envoy.wait_admin()
    if client == "other_group":
        wait_until(
            lambda: plane.refused("other_group") >= 1,
            timeout=10,
            description="the control plane to refuse the other group's certificate",
            alive=[envoy.process],
        )
    else:
        # No TLS session: Envoy keeps opening connections to its xds cluster, in vain.
        wait_until(
            lambda: (
                envoy.stats(r"^cluster\.xds\.upstream_cx_total$").get(
                    "cluster.xds.upstream_cx_total", 0
                )
                >= 2
            ),
            timeout=10,
            description="Envoy's connections to the control plane to fail",
            alive=[envoy.process],
        )
    assert envoy.dynamic_listener("public") is None  # the listener was never sent
    # Only the secrets its own bootstrap names (its client certificate files): none over xDS.
    secrets = envoy.config_dump("dynamic_active_secrets").get("configs", [])
    assert {secret["name"] for secret in secrets} <= {"xds_client", "xds_ca"}
    assert not envoy.is_live()
    assert [node["id"] for node in plane.admin.nodes()] == []
    envoy.close()


def test_no_private_key_reaches_a_log(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path
) -> None:
    envoy = Envoy(
        processes, plane.xds_address, tls_dir=certificates / "certs" / envoy_dir("default")
    )
    envoy.wait_live()
    envoy.close()
    keys = [path.read_text() for path in (certificates / "certs").glob("*/tls.key")]
    key_bodies = [line for key in keys for line in key.splitlines() if "PRIVATE KEY" not in line]
    for log in processes.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert "PRIVATE KEY" not in text, log
        assert not any(body in text for body in key_bodies), log


REDIS_URL = "redis://127.0.0.1:6379/0"


def test_the_ratelimit_service_subscribes_with_its_service_identity(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path
) -> None:
    service = RateLimitService(
        processes,
        REDIS_URL,
        plane.xds_address,
        count=1,
        tls_dir=certificates / "certs" / "ratelimit",
    )
    service.start()  # ready: its policies arrived over mTLS
    assert plane.refused("policy_without_service_identity") == 0


def test_a_nodes_certificate_cannot_read_the_policy_group(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path
) -> None:
    tls_dir = certificates / "certs" / envoy_dir("default")
    service = RateLimitService(processes, REDIS_URL, plane.xds_address, count=1, tls_dir=tls_dir)
    service.start(wait_ready=False)
    assert service.process is not None
    wait_until(
        lambda: plane.refused("policy_without_service_identity") >= 1,
        timeout=15,
        description="the control plane to refuse a node's certificate on the policy group",
        alive=[service.process],
    )
    assert not service.ready()


def test_envoy_follows_a_new_ca_and_certificates_without_a_restart(
    processes: ProcessGroup, plane: TlsControlPlane, certificates: Path
) -> None:
    """Every certificate, the CA included, is replaced while Envoy runs: traffic keeps flowing,
    and after the control plane comes back trusting only the new CA, Envoy (not restarted)
    reconnects with its new certificate and takes a new route."""
    upstream = Upstream(processes, "echo", free_port(), LOCALHOST)
    upstream.wait_serving()
    port = free_port()
    plane.admin.create("listeners", listener_spec("public", port))
    plane.admin.create("services", service_spec("echo", upstream.port))
    plane.admin.create("routes", route_spec("echo", "public", "/", {"echo": 100}))
    tls_dir = certificates / "certs" / envoy_dir("default")
    envoy = Envoy(processes, plane.xds_address, tls_dir=tls_dir)
    envoy.wait_live()
    url = f"http://{LOCALHOST}:{port}"
    wait_until(lambda: _routed(f"{url}/hello"), timeout=10, description="the first route")

    # A new CA signs new leaves for both ends; the old CA is trusted by neither any more.
    (certificates / "certs" / "ca").rename(certificates / "old-ca")
    generate(certificates / "certs", Plan(("default",)), renew=True)
    assert _routed(f"{url}/hello") is not None  # the open connection is untouched
    plane.stop()
    plane.start()
    plane.admin.create("routes", route_spec("moved", "public", "/moved", {"echo": 100}))
    response = wait_until(
        lambda: _routed(f"{url}/moved/x"),
        timeout=20,
        description="Envoy to reconnect with its new certificate and take the new route",
        alive=[envoy.process],
    )
    assert upstream_of(response) == "echo"
    assert plane.refused("other_group") == 0
    envoy.close()


def test_envoy_reaches_the_ratelimit_service_over_mtls(
    processes: ProcessGroup, database_url: str, certificates: Path
) -> None:
    """Envoy's cluster to the service presents the certificate files the control plane names
    (CHAOSGW_ENVOY_TLS_DIR, sent as file names over SDS); the service serves only mTLS. Under
    failure_mode_deny, a request the service did not decide would be a 429 without its headers."""
    certs = certificates / "certs"
    service = RateLimitService(
        processes,
        REDIS_URL,
        "",
        count=1,
        tls_dir=certs / "ratelimit",
        key_prefix=f"test-mtls-{uuid.uuid4().hex}:",
    )
    plane = TlsControlPlane(
        processes,
        database_url,
        certs / "controlplane",
        {
            **ratelimit_env(service.endpoints, failure_mode_deny=True),
            "CHAOSGW_ENVOY_TLS_DIR": str(certs / envoy_dir("default")),
        },
    )
    service.set_xds_address(plane.xds_address)
    plane.start()
    service.start()
    upstream = Upstream(processes, "echo", free_port(), LOCALHOST)
    upstream.wait_serving()
    port = free_port()
    plane.admin.create("listeners", listener_spec("public", port))
    plane.admin.create("services", service_spec("echo", upstream.port))
    plane.admin.create("routes", route_spec("echo", "public", "/", {"echo": 100}))
    plane.admin.create(
        "rate-limit-policies",
        {
            "name": "per-ip",
            "applies_to": {"type": "routes", "routes": ["echo"]},
            "counted_by": ["ip"],
            "limit": {"requests": 3, "window_seconds": 60},
        },
    )
    envoy = Envoy(processes, plane.xds_address, tls_dir=certs / envoy_dir("default"))
    envoy.wait_live()
    url = f"http://{LOCALHOST}:{port}/hello"

    def decided() -> httpx.Response | None:
        response = _routed(url)
        return response if response is not None and "ratelimit-limit" in response.headers else None

    wait_until(decided, timeout=15, description="a request decided by the service over mTLS")
    statuses = [httpx.get(url, timeout=2.0).status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert envoy.stat(f"cluster.{ratelimits.SERVICE_CLUSTER}.ssl.handshake") >= 1
    envoy.close()
    plane.close()
