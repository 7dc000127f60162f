"""One service process: gRPC on its own port, its policy subscription, its health endpoints."""

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence

import grpc
from chaosgw.ratelimit.v1 import policy_pb2

from adsclient import AdsSubscriber, ResourcesRefused
from controlplane.logging import configure_logging
from ratelimit.engine import Engine
from ratelimit.policies import POLICY_TYPE_URL, InvalidPolicies, compile_policies
from ratelimit.servicer import RateLimitServicer, add_to_server
from ratelimit.settings import Settings
from ratelimit.store import RedisStore
from serviceprocess.grpc_port import add_grpc_port
from serviceprocess.health import HealthApp, HealthServer

log = logging.getLogger(__name__)

# The Python services' node group on the control plane (controlplane.xds.snapshot.POLICY_GROUP);
# not imported, to keep the control plane's translator out of this process.
POLICY_GROUP = "chaosgw.policy"


def policy_updater(engine: Engine) -> Callable[[Sequence[policy_pb2.RateLimitPolicy]], None]:
    """The subscriber's callback: a set that does not compile is refused (NACKed) whole."""

    def update(policies: Sequence[policy_pb2.RateLimitPolicy]) -> None:
        try:
            engine.apply(compile_policies(policies))
        except InvalidPolicies as error:
            raise ResourcesRefused(str(error)) from None

    return update


async def serve(settings: Settings, index: int) -> None:
    store = RedisStore.connect(
        settings.redis_url, cluster=settings.redis_cluster, timeout=settings.redis_timeout_seconds
    )
    engine = Engine(store, settings.key_prefix)
    node_id = f"{settings.node_id or 'ratelimit-' + socket.gethostname()}-{index}"
    subscriber = AdsSubscriber(
        settings.xds_address,
        node_id=node_id,
        group=POLICY_GROUP,
        type_url=POLICY_TYPE_URL,
        message=policy_pb2.RateLimitPolicy,
        on_update=policy_updater(engine),
        tls=settings.tls_directory(),
    )
    server = grpc.aio.server()
    add_to_server(RateLimitServicer(engine), server)
    address = f"{settings.grpc_host}:{settings.grpc_port_of(index)}"
    grpc_port = add_grpc_port(server, address, settings.tls_directory())
    await server.start()

    async def problems() -> list[str]:
        found = []
        if not subscriber.ready.is_set():
            found.append("no policies received from the control plane yet")
        if not await store.ping():
            found.append("redis unreachable")
        return found

    health = HealthServer(HealthApp(problems), settings.grpc_host, settings.http_port_of(index))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, health.handle_exit, signum, None)
    subscribing = asyncio.create_task(subscriber.run())
    log.info(
        "ratelimit process serving",
        extra={"index": index, "grpc_port": grpc_port, "http_port": settings.http_port_of(index)},
    )
    try:
        await health.serve()  # returns once a signal has set `should_exit`
    finally:
        subscribing.cancel()
        await server.stop(grace=1.0)
        await store.close()
        log.info("ratelimit process stopped", extra={"index": index})


def run(settings: Settings, index: int) -> None:
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, index))


if __name__ == "__main__":
    # `python -m ratelimit.worker INDEX`, as the launcher starts it; settings from the env.
    run(Settings(), int(sys.argv[1]))
