"""`chaosgw ratelimit` as deployed: N processes on N ports sharing counters in Redis, policies
from a real in-process ADS server (ACK, NACK, updates without restart), malformed requests,
and a killed process started again by the launcher."""

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import pytest
from chaosgw.ratelimit.v1 import policy_pb2
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from controlplane.translator import Serialized
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.snapshot import POLICY_GROUP, RATELIMIT_POLICY, Snapshot
from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    ManagedProcess,
    ProcessGroup,
    consecutive_ports,
)
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually
from tests.unit.ratelimit.factories import policy
from tests.unit.xds.conftest import AdsServer, start_server

pytestmark = pytest.mark.integration

PROCESSES = 2
METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
Response = rls_pb2.RateLimitResponse


def publish(ads: AdsServer, *policies: policy_pb2.RateLimitPolicy) -> None:
    items = [Serialized(p.name, p.SerializeToString()) for p in policies]
    ads.cache.set(POLICY_GROUP, Snapshot.build({RATELIMIT_POLICY: items}))


def request(player_id: str, domain: str = "chaosgw") -> bytes:
    descriptor = ratelimit_pb2.RateLimitDescriptor(
        entries=[
            ratelimit_pb2.RateLimitDescriptor.Entry(key="policy", value="per-player"),
            ratelimit_pb2.RateLimitDescriptor.Entry(key="player", value=player_id),
        ]
    )
    encoded: bytes = rls_pb2.RateLimitRequest(
        domain=domain, descriptors=[descriptor]
    ).SerializeToString()
    return encoded


@pytest.fixture
async def ads() -> AsyncIterator[AdsServer]:
    served = await start_server(SnapshotCache())
    try:
        yield served
    finally:
        await served.server.stop(grace=None)


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def test_processes_share_limits_take_policy_updates_and_are_restarted(
    ads: AdsServer, tmp_path: Path
) -> None:
    publish(ads, policy("per-player", requests=3))
    redis = RedisServer(tmp_path / "redis").start()
    processes = ProcessGroup(tmp_path)
    grpc_port, http_port = consecutive_ports(PROCESSES), consecutive_ports(PROCESSES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
    env.update(
        CHAOSGW_RATELIMIT_PROCESSES=str(PROCESSES),
        CHAOSGW_RATELIMIT_GRPC_PORT=str(grpc_port),
        CHAOSGW_RATELIMIT_HTTP_PORT=str(http_port),
        CHAOSGW_RATELIMIT_REDIS_URL=redis.url,
        CHAOSGW_RATELIMIT_XDS_ADDRESS=ads.target,
        CHAOSGW_RATELIMIT_NODE_ID="rl-test",
    )
    launcher = processes.spawn("ratelimit", [CHAOSGW, "ratelimit"], env=env)
    channels = [grpc.aio.insecure_channel(f"{LOCALHOST}:{grpc_port + n}") for n in range(PROCESSES)]
    # Raw bytes both ways: garbage can be sent as it is.
    calls = [c.unary_unary(METHOD, None, None) for c in channels]
    try:
        async with httpx.AsyncClient(timeout=1.0) as http:

            async def all_ready() -> bool:
                for n in range(PROCESSES):
                    try:
                        answer = await http.get(f"http://{LOCALHOST}:{http_port + n}/readyz")
                    except httpx.TransportError:
                        return False
                    if answer.status_code != 200:
                        return False
                return True

            await wait_async(all_ready, "every process ready (Redis + policies)", launcher)

            # One limit over all processes: 3 admitted in turns, the 4th refused.
            codes = []
            for n in range(4):
                answer = Response.FromString(await calls[n % PROCESSES](request("alice")))
                codes.append(answer.overall_code)
            assert codes == [Response.OK] * 3 + [Response.OVER_LIMIT]
            headers = {h.key: h.value for h in answer.response_headers_to_add}
            assert headers["RateLimit-Limit"] == "3"
            assert headers["RateLimit-Remaining"] == "0"
            assert int(headers["Retry-After"]) >= 1

            # Malformed requests: INVALID_ARGUMENT, and the service keeps serving.
            for bad in (b"\xff\xff\xff garbage", request("bob", domain="")):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await calls[0](bad)
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            ok = Response.FromString(await calls[0](request("bob")))
            assert ok.overall_code == Response.OK

            # A bad set is NACKed by every process, which keep the last good one.
            publish(ads, policy("per-player", window=0))
            await eventually(
                lambda: nacked(ads) == PROCESSES, timeout=5.0, what="NACK from every process"
            )
            refused_again = Response.FromString(await calls[1](request("alice")))
            assert refused_again.overall_code == Response.OVER_LIMIT

            # A good update is applied without restart: a new player gets the new limit.
            publish(ads, policy("per-player", requests=1))
            await eventually(
                lambda: acked_current(ads) == PROCESSES, timeout=5.0, what="ACK of the update"
            )
            new = [Response.FromString(await calls[1](request("carol"))) for _ in range(2)]
            assert [r.overall_code for r in new] == [Response.OK, Response.OVER_LIMIT]

            # A killed process is started again on its port.
            os.kill(children(launcher.pid)[0], signal.SIGKILL)
            await wait_async(all_ready, "the killed process back", launcher)
            assert launcher.running
    finally:
        for channel in channels:
            await channel.close(None)
        processes.stop_all()
        redis.stop()


def nacked(ads: AdsServer) -> int:
    return sum(
        1
        for node in ads.registry.describe()
        if node.connected
        for entry in node.types
        if entry.type_url == RATELIMIT_POLICY and entry.nack_error
    )


def acked_current(ads: AdsServer) -> int:
    version = ads.cache.get(POLICY_GROUP).of_type(RATELIMIT_POLICY).version
    return sum(
        1
        for node in ads.registry.describe()
        if node.connected
        for entry in node.types
        if entry.type_url == RATELIMIT_POLICY and entry.acked_version == version
    )


async def wait_async(
    probe: Callable[[], Awaitable[bool]], what: str, process: ManagedProcess
) -> None:
    deadline = time.monotonic() + 20.0
    while not await probe():
        process.check_running()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
