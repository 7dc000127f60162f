"""xDS authorization: over mTLS, a client's certificate decides which node group it reads.

A real ADS server with the control plane's TLS credentials; clients are gRPC channels with the
certificates `chaosgw certs generate` makes (plus a foreign CA's). A refused client gets
PERMISSION_DENIED or no TLS session, and never one resource.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from prometheus_client import REGISTRY

from controlplane.xds.authorization import Authorization, Peer, StreamRefused
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.nodes import NodeRegistry
from controlplane.xds.server import AggregatedDiscoveryService, add_to_server
from controlplane.xds.snapshot import CLUSTER, POLICY_GROUP
from tlsfiles.credentials import channel_credentials, server_credentials
from tlsfiles.directory import TlsDirectory
from tlsfiles.generate import Plan, envoy_dir, generate
from tlsfiles.identities import Identity

EDGE, INTERNAL = "edge", "internal"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    generate(directory, Plan((EDGE, INTERNAL)))
    generate(directory / "foreign", Plan((EDGE,)))
    return directory


@pytest.fixture
async def xds(certificates: Path) -> AsyncIterator[tuple[int, NodeRegistry]]:
    registry = NodeRegistry()
    server = grpc.aio.server()
    service = AggregatedDiscoveryService(SnapshotCache(), registry, 2.0, Authorization(tls=True))
    add_to_server(service, server)
    directory = TlsDirectory(certificates / "controlplane")
    port = server.add_secure_port("127.0.0.1:0", server_credentials(directory))
    await server.start()
    yield port, registry
    await server.stop(None)


async def _first_response(
    port: int, credentials: grpc.ChannelCredentials, group: str
) -> discovery_pb2.DiscoveryResponse:
    """The first response to a cluster subscription as node `group`-node of `group`."""
    request = discovery_pb2.DiscoveryRequest(
        node=base_pb2.Node(id=f"{group}-node", cluster=group), type_url=CLUSTER
    )
    async with grpc.aio.secure_channel(
        f"127.0.0.1:{port}", credentials, [("grpc.ssl_target_name_override", "localhost")]
    ) as channel:
        call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(
            iter([request]), timeout=5
        )
        async for response in call:
            return response
    raise AssertionError("the stream ended without a response")


def _credentials(certificates: Path, name: str) -> grpc.ChannelCredentials:
    return channel_credentials(TlsDirectory(certificates / name))


def _refusals(reason: str) -> float:
    value = REGISTRY.get_sample_value("chaosgw_xds_refused_streams_total", {"reason": reason})
    return value or 0.0


async def test_a_node_reads_its_own_group(
    xds: tuple[int, NodeRegistry], certificates: Path
) -> None:
    port, registry = xds
    response = await _first_response(port, _credentials(certificates, envoy_dir(EDGE)), EDGE)
    assert response.type_url == CLUSTER
    assert [(node.id, node.group) for node in registry.describe()] == [("edge-node", EDGE)]


async def test_a_service_reads_the_policy_group(
    xds: tuple[int, NodeRegistry], certificates: Path
) -> None:
    port, _ = xds
    for service in ("extauthz", "ratelimit"):
        response = await _first_response(port, _credentials(certificates, service), POLICY_GROUP)
        assert response.type_url == CLUSTER


@pytest.mark.parametrize(
    ("client", "group", "reason"),
    [
        (envoy_dir(EDGE), INTERNAL, "other_group"),
        (envoy_dir(EDGE), POLICY_GROUP, "policy_without_service_identity"),
        ("ratelimit", EDGE, "other_group"),
    ],
)
async def test_a_certificate_for_another_group_gets_nothing(
    xds: tuple[int, NodeRegistry], certificates: Path, client: str, group: str, reason: str
) -> None:
    port, registry = xds
    before = _refusals(reason)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _first_response(port, _credentials(certificates, client), group)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _refusals(reason) == before + 1
    assert registry.describe() == []  # never listed as a node, not even a disconnected one


def test_a_client_certificate_naming_nothing_reads_nothing() -> None:
    with pytest.raises(StreamRefused) as refused:
        Peer(Identity()).check(EDGE)
    assert refused.value.reason == "no_identity"


async def test_no_certificate_or_another_cas_gets_no_session(
    xds: tuple[int, NodeRegistry], certificates: Path
) -> None:
    port, _ = xds
    ca = (certificates / "ca" / "ca.crt").read_bytes()
    for credentials in (
        grpc.ssl_channel_credentials(root_certificates=ca),
        _credentials(certificates / "foreign", envoy_dir(EDGE)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await asyncio.wait_for(_first_response(port, credentials, EDGE), 10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
