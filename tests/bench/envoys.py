"""Envoy processes for the benchmarks: static ones from a template, and xDS-fed gateway nodes.

Every Envoy here runs with `--concurrency 1` (one worker thread): on a 2-core machine that is the
only fair way to compare two Envoys and leave a core for the load generator and the upstream.
"""

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from controlplane.launcher import EnvoyNode, envoy_argv, render_bootstrap
from tests.integration.harness import (
    LOCALHOST,
    ManagedProcess,
    ProcessGroup,
    free_port,
    wait_until,
)

HERE = Path(__file__).parent
UPSTREAM_TEMPLATE = HERE / "upstream-envoy.yaml"
STATIC_GATEWAY_TEMPLATE = HERE / "static-envoy.yaml"
CONCURRENCY = 1


@dataclass
class EnvoyProcess:
    name: str
    process: ManagedProcess
    admin_port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_live(self, timeout: float = 30.0) -> None:
        """Until /ready says LIVE: for an xDS node, once its first config is applied."""

        def live() -> bool:
            response = httpx.get(f"http://{LOCALHOST}:{self.admin_port}/ready", timeout=1.0)
            return response.status_code == 200 and response.text.strip() == "LIVE"

        wait_until(
            live,
            timeout=timeout,
            description=f"Envoy {self.name} /ready to say LIVE",
            ignore=(httpx.TransportError,),
            alive=[self.process],
        )


def start_envoy(
    processes: ProcessGroup, name: str, config: str, workdir: Path, admin_port: int
) -> EnvoyProcess:
    path = workdir / f"{name}.yaml"
    path.write_text(config)
    # The admin port is unique on the machine, so it also makes a unique shared-memory base id.
    argv = envoy_argv(path, base_id=admin_port, log_level="warn", concurrency=CONCURRENCY)
    return EnvoyProcess(name, processes.spawn(name, argv), admin_port)


def start_static(
    processes: ProcessGroup,
    name: str,
    template: Path,
    workdir: Path,
    values: Mapping[str, int],
) -> EnvoyProcess:
    admin_port = free_port()
    config = string.Template(template.read_text()).substitute(values, admin_port=admin_port)
    return start_envoy(processes, name, config, workdir, admin_port)


def start_node(
    processes: ProcessGroup, name: str, group: str, xds_port: int, workdir: Path
) -> EnvoyProcess:
    """A gateway Envoy that takes everything but the way to the control plane over ADS."""
    admin_port = free_port()
    node = EnvoyNode(
        group=group, node_id=name, xds_host=LOCALHOST, xds_port=xds_port, admin_port=admin_port
    )
    return start_envoy(processes, name, render_bootstrap(node), workdir, admin_port)
