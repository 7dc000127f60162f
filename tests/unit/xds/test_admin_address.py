"""The admin address an Envoy announces in its node metadata (see envoy/bootstrap.yaml)."""

import pytest
from google.protobuf import struct_pb2

from controlplane.xds.nodes import ADMIN_METADATA_KEY, NodeRegistry, admin_url_of


def _metadata(address: str, port: float) -> struct_pb2.Struct:
    metadata = struct_pb2.Struct()
    metadata.update({ADMIN_METADATA_KEY: {"address": address, "port": port}})
    return metadata


@pytest.mark.parametrize(
    ("address", "port", "peer", "url"),
    [
        ("127.0.0.1", 9901, "ipv4:127.0.0.1:5000", "http://127.0.0.1:9901"),
        # Listening everywhere: reached where its xDS stream comes from.
        ("0.0.0.0", 9901, "ipv4:10.1.2.3:5000", "http://10.1.2.3:9901"),
        ("::", 9901, "ipv6:[fd00::7]:5000", "http://[fd00::7]:9901"),
        ("0.0.0.0", 9901, "unix:/tmp/sock", None),
        ("not-an-ip", 9901, "ipv4:127.0.0.1:5000", None),
        ("127.0.0.1", 0, "ipv4:127.0.0.1:5000", None),
        ("127.0.0.1", 99.5, "ipv4:127.0.0.1:5000", None),
    ],
)
def test_admin_url_of_metadata(address: str, port: float, peer: str, url: str | None) -> None:
    assert admin_url_of(_metadata(address, port), peer) == url


def test_without_metadata_a_node_has_no_admin_endpoint() -> None:
    assert admin_url_of(struct_pb2.Struct(), "ipv4:127.0.0.1:5000") is None
    registry = NodeRegistry()
    registry.connected("a", "edge", "ipv4:127.0.0.1:1", "envoy/1.40.0", None)
    registry.connected("b", "edge", "ipv4:127.0.0.1:2", "envoy/1.40.0", "http://127.0.0.1:9901")
    registry.connected("c", "other", "ipv4:127.0.0.1:3", "envoy/1.40.0", "http://127.0.0.1:9902")
    registry.disconnected("c")
    assert [e.node_id for e in registry.admin_endpoints({"edge", "other"})] == ["b"]
