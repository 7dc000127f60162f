"""The clusters of the gateway's own gRPC services (rate limit, auth): one endpoint per service
process, each on its own port, so that Envoy's load balancer spreads requests over them all."""

import ipaddress
from collections.abc import Iterable
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import protocol_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2

from controlplane.translator.clusters import HTTP_PROTOCOL_OPTIONS
from controlplane.translator.protos import duration_fields, packed, socket_address
from controlplane.translator.service_tls import service_transport_socket


def host_port(endpoint: str) -> tuple[str, int]:
    """`host:port` (settings check the form) as a pair; an IPv6 host loses its brackets."""
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def grpc_service_cluster(
    name: str, endpoints: Iterable[tuple[str, int]], tls_service: str | None = None
) -> Any:
    """A static (or, for host names, DNS) cluster speaking HTTP/2, as gRPC needs; over mTLS
    to the service identity `tls_service` when given."""
    endpoints = tuple(endpoints)
    resolved = all(_is_ip(host) for host, _ in endpoints)
    cluster = cluster_pb2.Cluster(
        name=name,
        connect_timeout=duration_fields(1.0),
        type=cluster_pb2.Cluster.STATIC if resolved else cluster_pb2.Cluster.STRICT_DNS,
        load_assignment=endpoint_pb2.ClusterLoadAssignment(
            cluster_name=name,
            endpoints=[
                endpoint_components_pb2.LocalityLbEndpoints(
                    lb_endpoints=[
                        endpoint_components_pb2.LbEndpoint(
                            endpoint=endpoint_components_pb2.Endpoint(
                                address=socket_address(host, port)
                            )
                        )
                        for host, port in endpoints
                    ]
                )
            ],
        ),
    )
    options = http_protocol_options_pb2.HttpProtocolOptions(
        explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
            http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
        )
    )
    cluster.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS].CopyFrom(packed(options))
    if not resolved:
        # A Kubernetes headless Service has A records only; with IPv6 preferred (Envoy's AUTO)
        # each resolution would first ask for AAAA records that never come.
        cluster.dns_lookup_family = cluster_pb2.Cluster.V4_PREFERRED
    if tls_service is not None:
        transport = service_transport_socket(tls_service)
        cluster.transport_socket.name = transport["name"]
        cluster.transport_socket.typed_config.CopyFrom(transport["typed_config"])
    return cluster


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
