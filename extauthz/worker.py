"""One service process: gRPC on its own port, its subscriptions (API keys, route policies, OAuth
2.0 introspectors), its health endpoints.

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
import httpx
from chaosgw.auth.v1 import auth_pb2

from adsclient import AdsSubscriber, ResourcesRefused
from controlplane.logging import configure_logging
from controlplane.model.auth_api_keys import key_hasher
from extauthz.api_keys import API_KEY_TYPE_URL, ApiKeys, compile_keys
from extauthz.credentials import Verifier
from extauthz.identity import API_KEY, OAUTH2
from extauthz.introspection import INTROSPECTOR_TYPE_URL, Introspection, compile_introspectors
from extauthz.policies import (
    ROUTE_POLICY_TYPE_URL,
    InvalidResources,
    RoutePolicies,
    compile_policies,
)
from extauthz.servicer import AuthorizationServicer, add_to_server
from extauthz.settings import Settings
from serviceprocess.health import HealthApp, HealthServer

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
    # One client per process: connections to the providers are kept and reused. Proxies from
    # the environment are not used, nor redirects followed: only the declared endpoint is asked.
    http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
    introspection = Introspection(http, cache_size=settings.introspection_cache_size)
    introspectors = AdsSubscriber(
        settings.xds_address,
        node_id=f"{node}-introspectors",
        group=POLICY_GROUP,
        type_url=INTROSPECTOR_TYPE_URL,
        message=auth_pb2.OAuth2Introspector,
        on_update=updater(compile_introspectors, introspection.replace),
    )
    server = grpc.aio.server()
    verifiers: dict[str, Verifier] = {API_KEY: api_keys, OAUTH2: introspection}
    add_to_server(AuthorizationServicer(policies, verifiers), server)
    grpc_port = server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port_of(index)}")
    await server.start()

    async def problems() -> list[str]:
        return [
            f"no {what} received from the control plane yet"
            for what, subscriber in (
                ("API keys", keys),
                ("route policies", routes),
                ("OAuth 2.0 introspectors", introspectors),
            )
            if not subscriber.ready.is_set()
        ]

    health = HealthServer(HealthApp(problems), settings.grpc_host, settings.http_port_of(index))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, health.handle_exit, signum, None)
    subscriptions = [asyncio.create_task(s.run()) for s in (keys, routes, introspectors)]
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
        await http.aclose()
        log.info("extauthz process stopped", extra={"index": index})


def run(settings: Settings, index: int) -> None:
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, index))


if __name__ == "__main__":
    # `python -m extauthz.worker INDEX`, as the launcher starts it; settings from the env.
    run(Settings(), int(sys.argv[1]))
