"""`chaosgw run` (what `make run` starts): the whole gateway with its demo, and a clean stop."""

import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from controlplane.devstack import UPSTREAMS, DevPorts
from tests.integration.harness import ManagedProcess, port_accepts, wait_until

pytestmark = pytest.mark.integration


def _free_offset() -> DevPorts:
    """An offset that puts every port of the stack on a free port below the ephemeral range."""
    for offset in range(5000, 14000, 137):
        ports = DevPorts(offset)
        every = [ports.admin, ports.xds, ports.envoy_admin, ports.gateway]
        every += [ports.upstream(index) for index in range(len(UPSTREAMS))]
        if not any(port_accepts(port) for port in every):
            return ports
    raise RuntimeError("no free set of ports for the local stack")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_the_demo_and_stops_everything(tmp_path: Path, stop_signal: int) -> None:
    ports = _free_offset()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    stack = ManagedProcess(
        "chaosgw-run",
        [sys.executable, "-m", "controlplane.cli", "run", "--port-offset", str(ports.offset)],
        log_dir=tmp_path,
        env=env,
        cwd=tmp_path,
    ).start()
    try:
        wait_until(
            lambda: "Press Ctrl-C" in stack.log_path.read_text(),
            timeout=60,
            description="the stack to print where to send requests",
            alive=[stack],
        )
        banner = stack.log_path.read_text()
        assert f"http://127.0.0.1:{ports.gateway}" in banner
        assert f"http://127.0.0.1:{ports.admin}/docs" in banner

        players = httpx.get(f"http://127.0.0.1:{ports.gateway}/players/42", timeout=5)
        assert players.status_code == 200
        assert players.headers["x-upstream"] == "players"
        nodes = httpx.get(f"http://127.0.0.1:{ports.admin}/api/v1/nodes", timeout=5).json()
        assert [node["id"] for node in nodes["items"]] == ["dev-envoy"]

        os.kill(stack.pid, stop_signal)  # the stack alone: it must stop its children itself
        wait_until(
            lambda: stack.returncode is not None,
            timeout=30,
            description="the stack to exit",
        )
        assert stack.returncode == 0
        every = [ports.admin, ports.xds, ports.envoy_admin, ports.gateway]
        every += [ports.upstream(index) for index in range(len(UPSTREAMS))]
        assert not [port for port in every if port_accepts(port)], "a child outlived the stack"
        assert (tmp_path / "var" / "chaosgw.db").exists()
    finally:
        stack.stop()
