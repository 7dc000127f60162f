"""One service process: gRPC on its own port, its two subscriptions (API keys, route policies),
its health endpoints.

One ADS stream per resource type: the subscriber follows one wildcard type per stream, each
with its own version, ACKs and NACKs; the two sets are independent (a key and a route policy
never need to change together), and a second stream is one more HTTP/2 stream to the same
control plane. Each stream is its own node (`-keys`, `-routes`), so the control plane's node
list shows what each one ACKed.
"""

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from chaosgw.auth.v1 import auth_pb2

from adsclient import AdsSubscriber, ResourcesRefused
from controlplane.logging import configure_logging
from controlplane.model.auth_api_keys import key_hasher
from extauthz.api_keys import API_KEY_TYPE_URL, ApiKeys, compile_keys
from extauthz.identity import API_KEY, SESSION
from extauthz.policies import (
    ROUTE_POLICY_TYPE_URL,
    InvalidResources,
    RoutePolicies,
    compile_policies,
)
from extauthz.servicer import AuthorizationServicer, add_to_server
from extauthz.sessions import Sessions
from extauthz.settings import Settings
from serviceprocess.health import HealthApp, HealthServer
from sessionstore.layout import Keys
from sessionstore.store import SessionCheck, async_client

log = logging.getLogger(__name__)

# The Python services' node group on the control plane (controlplane.xds.snapshot.POLICY_GROUP).
POLICY_GROUP = "chaosgw.policy"

M = TypeVar("M")
T = TypeVar("T")


def updater(
    compile_set: Callable[[Sequence[M]], T], apply: Callable[[T], None]
) -> Callable[[Sequence[M]], None]:
    """A subscriber's callback: a set that does not compile is refused (NACKed) whole."""

    def update(messages: Sequence[M]) -> None:
        try:
            compiled = compile_set(messages)
        except InvalidResources as error:
            raise ResourcesRefused(str(error)) from None
        apply(compiled)

    return update


async def serve(settings: Settings, index: int) -> None:
    api_keys = ApiKeys(key_hasher(settings.api_key_secret.get_secret_value().encode()))
    policies = RoutePolicies()
    node = f"{settings.node_id or 'extauthz-' + socket.gethostname()}-{index}"
    keys = AdsSubscriber(
        settings.xds_address,
        node_id=f"{node}-keys",
        group=POLICY_GROUP,
        type_url=API_KEY_TYPE_URL,
        message=auth_pb2.ApiKey,
        on_update=updater(compile_keys, api_keys.replace),
    )
    routes = AdsSubscriber(
        settings.xds_address,
        node_id=f"{node}-routes",
        group=POLICY_GROUP,
        type_url=ROUTE_POLICY_TYPE_URL,
        message=auth_pb2.RoutePolicy,
        on_update=updater(compile_policies, policies.replace),
    )
    redis = async_client(settings.redis_url, settings.redis_timeout_seconds)
    sessions = Sessions(SessionCheck(redis, Keys(settings.sessions_key_prefix)))
    server = grpc.aio.server()
    add_to_server(AuthorizationServicer(policies, {API_KEY: api_keys, SESSION: sessions}), server)
    grpc_port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port_of(index)}")
    await server.start()

    async def problems() -> list[str]:
        return [
            f"no {what} received from the control plane yet"
            for what, subscriber in (("API keys", keys), ("route policies", routes))
            if not subscriber.ready.is_set()
        ]

    health = HealthServer(HealthApp(problems), settings.grpc_host, settings.http_port_of(index))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, health.handle_exit, signum, None)
    subscriptions = [asyncio.create_task(s.run()) for s in (keys, routes)]
    log.info(
        "extauthz process serving",
        extra={"index": index, "grpc_port": grpc_port, "http_port": settings.http_port_of(index)},
    )
    try:
        await health.serve()  # returns once a signal has set `should_exit`
    finally:
        for subscription in subscriptions:
            subscription.cancel()
        await server.stop(grace=1.0)
        await redis.aclose()
        log.info("extauthz process stopped", extra={"index": index})


def run(settings: Settings, index: int) -> None:
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, index))


if __name__ == "__main__":
    # `python -m extauthz.worker INDEX`, as the launcher starts it; settings from the env.
    run(Settings(), int(sys.argv[1]))
