"""Services become Envoy clusters, and static endpoints become EDS load assignments."""

from itertools import groupby
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import wrappers_pb2

from controlplane.model import Endpoint, ServiceSpec
from controlplane.translator.protos import ads_source, duration_fields, packed, socket_address
from controlplane.translator.resilience import resilience_fields
from controlplane.translator.upstream_tls import tls_transport_socket

_LB_POLICIES = {
    "round_robin": cluster_pb2.Cluster.ROUND_ROBIN,
    "least_request": cluster_pb2.Cluster.LEAST_REQUEST,
    "random": cluster_pb2.Cluster.RANDOM,
    "ring_hash": cluster_pb2.Cluster.RING_HASH,
    "maglev": cluster_pb2.Cluster.MAGLEV,
}

HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def build_cluster(service: ServiceSpec) -> Any:
    http2 = service.protocol in ("http2", "grpc")
    fields = resilience_fields(service) | _balancing_fields(service)
    if service.tls is not None:
        fields["transport_socket"] = tls_transport_socket(
            service.tls, ["h2"] if http2 else ["http/1.1"]
        )
    cluster = cluster_pb2.Cluster(
        name=service.name,
        connect_timeout=duration_fields(service.timeouts.connect_seconds),
        lb_policy=_LB_POLICIES[service.load_balancing],
        **fields,
    )
    if service.discovery == "static":
        cluster.type = cluster_pb2.Cluster.EDS
        cluster.eds_cluster_config.eds_config.CopyFrom(ads_source())
    else:
        # Envoy resolves DNS names itself; such clusters carry their endpoints inline.
        cluster.type = cluster_pb2.Cluster.STRICT_DNS
        cluster.dns_lookup_family = cluster_pb2.Cluster.V4_PREFERRED
        cluster.load_assignment.CopyFrom(build_load_assignment(service))
    if http2:
        options = http_protocol_options_pb2.HttpProtocolOptions(
            explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
                http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
            )
        )
        cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].CopyFrom(packed(options))
    return cluster


def _balancing_fields(service: ServiceSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "common_lb_config": {"healthy_panic_threshold": {"value": service.panic_threshold_percent}}
    }
    if service.ring_hash is not None:
        fields["ring_hash_lb_config"] = {
            "minimum_ring_size": {"value": service.ring_hash.min_ring_size},
            "maximum_ring_size": {"value": service.ring_hash.max_ring_size},
        }
    if service.maglev is not None:
        fields["maglev_lb_config"] = {"table_size": {"value": service.maglev.table_size}}
    return fields


def build_load_assignment(service: ServiceSpec) -> Any:
    by_priority = sorted(service.endpoints, key=lambda endpoint: endpoint.priority)
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=service.name,
        endpoints=[
            endpoint_components_pb2.LocalityLbEndpoints(
                priority=priority, lb_endpoints=[_lb_endpoint(endpoint) for endpoint in group]
            )
            for priority, group in groupby(by_priority, key=lambda endpoint: endpoint.priority)
        ],
    )


def _lb_endpoint(endpoint: Endpoint) -> Any:
    return endpoint_components_pb2.LbEndpoint(
        endpoint=endpoint_components_pb2.Endpoint(
            address=socket_address(endpoint.host, endpoint.port)
        ),
        load_balancing_weight=wrappers_pb2.UInt32Value(value=endpoint.weight),
    )
