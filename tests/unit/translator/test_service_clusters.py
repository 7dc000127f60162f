"""The auth and rate-limit services' clusters: addresses are static, host names (a Kubernetes
headless Service) are resolved by Envoy with IPv4 first, so every replica is an endpoint."""

from envoy.config.cluster.v3 import cluster_pb2

from controlplane.translator.service_clusters import grpc_service_cluster


def test_host_names_are_resolved_ipv4_first() -> None:
    cluster = grpc_service_cluster("extauthz", [("gw-chaosgw-extauthz.chaos.svc", 18300)])
    assert cluster.type == cluster_pb2.Cluster.STRICT_DNS
    assert cluster.dns_lookup_family == cluster_pb2.Cluster.V4_PREFERRED


def test_addresses_stay_static() -> None:
    cluster = grpc_service_cluster("extauthz", [("10.0.0.8", 18300), ("10.0.0.9", 18300)])
    assert cluster.type == cluster_pb2.Cluster.STATIC
    assert cluster.dns_lookup_family == cluster_pb2.Cluster.AUTO
