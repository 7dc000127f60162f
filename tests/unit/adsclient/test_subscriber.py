"""The ADS subscriber against the real control-plane ADS server (in process, on a loopback
port): sets ACKed and handed over, sets refused or undecodable NACKed with the reason while the
held version stays, a reconnect that tells the held version gets nothing sent again, a restarted
control plane has its subscriber back within the reconnect bound, and a server that refuses
every stream is asked less and less often."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
import pytest
from chaosgw.ratelimit.v1 import policy_pb2

from adsclient import AdsSubscriber, ResourcesRefused
from adsclient.subscriber import RECONNECT_MAX_SECONDS
from controlplane.translator import Serialized
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.nodes import TypeStatus
from controlplane.xds.snapshot import POLICY_GROUP, RATELIMIT_POLICY, Snapshot
from tests.support.waiting import eventually
from tests.unit.ratelimit.factories import policy
from tests.unit.xds.conftest import AdsServer, start_server

NODE = "rl-unit"
Policy = policy_pb2.RateLimitPolicy


class Service:
    """What a service does with the sets: keeps each one it takes, refuses a policy named
    "refused"."""

    def __init__(self) -> None:
        self.taken: list[list[str]] = []

    def on_update(self, policies: Sequence[Policy]) -> None:
        names = [p.name for p in policies]
        if "refused" in names:
            raise ResourcesRefused("policy 'refused' is not welcome")
        self.taken.append(names)


def publish(ads: AdsServer, *resources: Serialized) -> str:
    ads.cache.set(POLICY_GROUP, Snapshot.build({RATELIMIT_POLICY: list(resources)}))
    version: str = ads.cache.get(POLICY_GROUP).of_type(RATELIMIT_POLICY).version
    return version


def item(name: str) -> Serialized:
    return Serialized(name, policy(name).SerializeToString())


async def node_state(ads: AdsServer, what: str, check: Callable[[TypeStatus], bool]) -> TypeStatus:
    """What the server records of the connected node's policies, once `check` holds."""

    def found() -> TypeStatus | None:
        for node in ads.registry.describe():
            if node.id == NODE and node.connected:
                for entry in node.types:
                    if entry.type_url == RATELIMIT_POLICY and check(entry):
                        return entry
        return None

    state = await eventually(found, timeout=5.0, what=what)
    assert state is not None
    return state


@pytest.fixture
async def ads() -> AsyncIterator[AdsServer]:
    served = await start_server(SnapshotCache())
    try:
        yield served
    finally:
        await served.server.stop(grace=None)


def subscriber_of(target: str, service: Service) -> AdsSubscriber[Policy]:
    """A subscriber with the services' own timings."""
    return AdsSubscriber(
        target,
        node_id=NODE,
        group=POLICY_GROUP,
        type_url=RATELIMIT_POLICY,
        message=Policy,
        on_update=service.on_update,
    )


async def stop(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
async def running(ads: AdsServer) -> AsyncIterator[tuple[AdsSubscriber[Policy], Service]]:
    service = Service()
    subscriber = subscriber_of(ads.target, service)
    task = asyncio.create_task(subscriber.run())
    try:
        yield subscriber, service
    finally:
        await stop(task)


async def test_a_set_is_handed_over_and_acked(
    ads: AdsServer, running: tuple[AdsSubscriber[Policy], Service]
) -> None:
    subscriber, service = running
    version = publish(ads, item("a"), item("b"))

    await asyncio.wait_for(subscriber.ready.wait(), timeout=5.0)
    await node_state(ads, "the ACK", lambda entry: entry.acked_version == version)

    assert service.taken == [["a", "b"]]
    assert subscriber.version == version
    assert subscriber.connected


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (item("refused"), "policy 'refused' is not welcome"),
        (Serialized("garbage", b"\xff\xff\xff"), "a resource does not decode"),
    ],
)
async def test_a_refused_set_is_nacked_and_the_held_version_stays(
    ads: AdsServer,
    running: tuple[AdsSubscriber[Policy], Service],
    bad: Serialized,
    reason: str,
) -> None:
    subscriber, service = running
    good = publish(ads, item("a"))
    await eventually(lambda: subscriber.version == good, timeout=5.0, what="the first set")

    publish(ads, item("a"), bad)
    nacked = await node_state(ads, "the NACK", lambda entry: entry.nack_error is not None)

    assert reason in (nacked.nack_error or "")
    assert nacked.acked_version == good
    assert subscriber.version == good
    assert service.taken == [["a"]]  # the bad set never reached the service whole
    newer = publish(ads, item("c"))
    await eventually(lambda: subscriber.version == newer, timeout=5.0, what="the next set")
    assert service.taken == [["a"], ["c"]]


async def test_a_reconnect_tells_the_held_version_and_gets_nothing_again(
    ads: AdsServer, running: tuple[AdsSubscriber[Policy], Service]
) -> None:
    subscriber, service = running
    version = publish(ads, item("a"))
    await eventually(lambda: subscriber.version == version, timeout=5.0, what="the first set")

    # The control plane restarts on the same port, serving the same set.
    await ads.server.stop(grace=None)
    await eventually(lambda: not subscriber.connected, timeout=5.0, what="the stream's end")
    restarted = await start_server(ads.cache, port=ads.port)
    try:
        entry = await node_state(restarted, "the reconnect", lambda entry: True)
        # The first request said which version it holds: taken as ACKed, nothing was sent.
        assert entry.acked_version == version
        assert entry.sent_version is None
        assert service.taken == [["a"]]
        # With nothing sent, the server's headers alone tell the subscriber it is connected.
        await eventually(lambda: subscriber.connected, timeout=1.0, what="the stream up")
        # And the new stream works: the next set arrives.
        newer = publish(restarted, item("b"))
        await eventually(lambda: subscriber.version == newer, timeout=5.0, what="the next set")
        assert service.taken == [["a"], ["b"]]
    finally:
        await restarted.server.stop(grace=None)


async def test_a_restarted_control_plane_has_its_subscriber_back_within_the_reconnect_bound(
    ads: AdsServer, running: tuple[AdsSubscriber[Policy], Service]
) -> None:
    subscriber, _ = running
    publish(ads, item("a"))
    await asyncio.wait_for(subscriber.ready.wait(), timeout=5.0)

    await ads.server.stop(grace=None)
    await eventually(lambda: not subscriber.connected, timeout=5.0, what="the stream's end")
    # Down long enough for gRPC's default back-off (1 s, 1.6 s, 2.6 s: the next attempt after
    # 4.6 s at the earliest) to leave it away for over a second after the restart.
    await asyncio.sleep(3.0)
    restarted = await start_server(ads.cache, port=ads.port)
    started = time.monotonic()
    try:
        await eventually(lambda: subscriber.connected, timeout=5.0, what="the stream up again")
        took = time.monotonic() - started
        # The channel's next attempt (within the bound and its 20 % jitter), and the connect
        # on a machine that may be busy.
        assert took < RECONNECT_MAX_SECONDS * 1.2 + 0.5, f"back after {took:.3f}s"
    finally:
        await restarted.server.stop(grace=None)


async def test_a_server_that_refuses_every_stream_is_asked_less_and_less_often() -> None:
    calls: list[float] = []

    async def refuse(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        # As the control plane refuses a certificate of another node group: headers first.
        calls.append(time.monotonic())
        await context.send_initial_metadata(())
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not for you")

    server = grpc.aio.server()
    handler = grpc.stream_stream_rpc_method_handler(refuse)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "envoy.service.discovery.v3.AggregatedDiscoveryService",
                {"StreamAggregatedResources": handler},
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    subscriber = subscriber_of(f"127.0.0.1:{port}", Service())
    task = asyncio.create_task(subscriber.run())
    try:
        await eventually(lambda: len(calls) >= 4, timeout=10.0, what="four refused streams")
    finally:
        await stop(task)
        await server.stop(grace=None)

    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    # Doubling from 0.5 s, jittered down to at most half: never retried at the pace of a
    # stream that was up.
    assert gaps[1] >= 0.5, gaps
    assert gaps[2] >= 1.0, gaps
    assert not subscriber.connected
