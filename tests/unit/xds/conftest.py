"""A real ADS server on a loopback port, and fake Envoys to drive it."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest

from controlplane.xds.cache import SnapshotCache
from controlplane.xds.nodes import NodeRegistry
from controlplane.xds.server import AggregatedDiscoveryService, add_to_server
from tests.support.ads_client import AdsClient, Decide

# How long a push waits for an ACK before it moves on: short, so a bug shows as a wrong
# sequence rather than a slow test.
ACK_TIMEOUT = 2.0


@dataclass
class AdsServer:
    cache: SnapshotCache
    registry: NodeRegistry
    server: grpc.aio.Server
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


async def start_server(cache: SnapshotCache, port: int = 0) -> AdsServer:
    registry = NodeRegistry()
    server = grpc.aio.server()
    add_to_server(AggregatedDiscoveryService(cache, registry, ACK_TIMEOUT), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return AdsServer(cache, registry, server, bound)


@pytest.fixture
def cache() -> SnapshotCache:
    return SnapshotCache()


@pytest.fixture
async def ads(cache: SnapshotCache) -> AsyncIterator[AdsServer]:
    served = await start_server(cache)
    try:
        yield served
    finally:
        await served.server.stop(grace=None)


ClientFactory = Callable[..., AdsClient]


@pytest.fixture
async def clients(ads: AdsServer) -> AsyncIterator[Callable[..., AdsClient]]:
    """`clients(node_id, group, decide=None, eager=False)`: a client (not connected yet)."""
    made: list[AdsClient] = []

    def make(
        node_id: str, group: str, *, decide: Decide | None = None, eager: bool = False
    ) -> AdsClient:
        client = AdsClient(ads.target, node_id, group, decide=decide, eager=eager)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.close()
