"""Where a real cluster is given (KUBECONFIG set), the chart installs and carries a request:
helm install of the development values (the image named by CHAOSGW_TEST_IMAGE, default
chaosgw:<appVersion>, already loaded into the cluster; Redis at CHAOSGW_TEST_REDIS_URL), a
listener and a route declared through the admin API, a request through Envoy's Service.
Skipped, with the reason, everywhere else."""

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.helm.chart import CHART, HELM, VALUE_SETS
from tests.integration.harness import ManagedProcess, free_port, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("KUBECONFIG"),
        reason="KUBECONFIG is not set: no Kubernetes cluster to install the chart into",
    ),
]

KUBECTL = str(Path(sys.executable).parent / "kubectl")
RELEASE = "gw"
LISTENER_PORT = 8080


def run(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"chaosgw-test-{uuid.uuid4().hex[:8]}"
    run(KUBECTL, "create", "namespace", name)
    try:
        yield name
    finally:
        subprocess.run([str(HELM), "uninstall", RELEASE, "-n", name], check=False, timeout=300)
        subprocess.run([KUBECTL, "delete", "namespace", name, "--wait=false"], check=False)


def port_forward(
    namespace: str, target: str, port: int, log_dir: Path
) -> tuple[ManagedProcess, int]:
    """`kubectl port-forward` of target's port to a local one (returned with the process)."""
    local = free_port()
    process = ManagedProcess(
        f"port-forward-{target.replace('/', '-')}",
        [KUBECTL, "-n", namespace, "port-forward", target, f"{local}:{port}"],
        log_dir=log_dir,
    ).start()
    return process, local


def test_chart_installs_and_carries_a_request(namespace: str, tmp_path: Path) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    image = os.environ.get("CHAOSGW_TEST_IMAGE", f"chaosgw:{chart['appVersion']}")
    repository, _, tag = image.rpartition(":")
    redis = os.environ.get("CHAOSGW_TEST_REDIS_URL", "redis://redis.default.svc:6379/0")
    values = VALUE_SETS["minimal-dev"]
    assert values is not None
    run(
        str(HELM), "install", RELEASE, str(CHART), "-n", namespace, "-f", str(values),
        "--set", f"image.repository={repository},image.tag={tag},redis.url={redis}",
        "--set", "image.pullPolicy=Never", "--wait", "--timeout", "8m",
    )  # fmt: skip
    encoded = run(
        KUBECTL, "-n", namespace, "get", "secret", f"{RELEASE}-chaosgw-generated",
        "-o", "jsonpath={.data.admin-token}",
    )  # fmt: skip
    token = base64.b64decode(encoded).decode()

    admin_forward, admin_port = port_forward(
        namespace, f"svc/{RELEASE}-chaosgw-admin", 8080, tmp_path
    )
    envoy_forward, envoy_port = port_forward(
        namespace, f"svc/{RELEASE}-chaosgw-envoy", 80, tmp_path
    )
    processes = [admin_forward, envoy_forward]
    try:
        admin = httpx.Client(
            base_url=f"http://127.0.0.1:{admin_port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
        )
        wait_until(
            lambda: admin.get("/readyz").status_code == 200,
            timeout=60,
            description="the control plane's /readyz through port-forward",
            ignore=(httpx.TransportError,),
            alive=processes,
        )
        listener = {"name": "public", "port": LISTENER_PORT, "address": "0.0.0.0"}
        admin.post("/api/v1/listeners", json=listener).raise_for_status()
        route = {
            "name": "hello",
            "listener": "public",
            "match": {"path": {"type": "prefix", "value": "/"}},
            "action": {"type": "direct_response", "status": 200, "body": "hello from chaosgw"},
        }
        admin.post("/api/v1/routes", json=route).raise_for_status()

        def answered() -> bool:
            response = httpx.get(f"http://127.0.0.1:{envoy_port}/", timeout=5.0)
            return response.status_code == 200 and response.text == "hello from chaosgw"

        wait_until(
            answered,
            timeout=120,
            description="a request through Envoy's Service to get the route's answer",
            ignore=(httpx.TransportError,),
            alive=processes,
        )
    finally:
        for process in processes:
            process.stop()
