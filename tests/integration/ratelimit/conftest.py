"""Disposable Redis servers (single and a 3+3 cluster) and engines deciding against them."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from chaosgw.ratelimit.v1 import policy_pb2

from ratelimit.engine import Engine
from ratelimit.policies import compile_policies
from ratelimit.store import RedisStore
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer

# Generous for correctness tests on a busy machine; the failure tests use the real default.
TEST_TIMEOUT = 1.0


@dataclass(frozen=True)
class Backend:
    url: str
    cluster: bool


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "single":
        server: RedisServer = request.getfixturevalue("redis_server")
        return Backend(server.url, cluster=False)
    cluster: RedisCluster = request.getfixturevalue("redis_cluster")
    return Backend(cluster.url, cluster=True)


EngineFactory = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def engines() -> AsyncIterator[Callable[..., Awaitable[Engine]]]:
    """`await engines(backend, *policies, redis_timeout=TEST_TIMEOUT, prefix=None)`: an engine with
    those policies, on its own key prefix (a fresh one per test unless given)."""
    stores: list[RedisStore] = []
    test_prefix = f"chaosgw-test:{uuid.uuid4().hex[:12]}"

    async def make(
        backend: Backend,
        *policies: policy_pb2.RateLimitPolicy,
        redis_timeout: float = TEST_TIMEOUT,
        prefix: str | None = None,
    ) -> Engine:
        store = RedisStore.connect(backend.url, cluster=backend.cluster, timeout=redis_timeout)
        stores.append(store)
        engine = Engine(store, prefix or test_prefix)
        engine.apply(compile_policies(policies))
        return engine

    try:
        yield make
    finally:
        for store in stores:
            await store.close()
