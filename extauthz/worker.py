"""One service process: gRPC on its own port (Authorization, and the sink of the Envoys' auth
denial logs: extauthz/events.py), its subscriptions (API keys, route policies, JWT providers,
OAuth 2.0 introspectors), its health endpoints.

One ADS stream per resource type: the subscriber follows one wildcard type per stream, each
with its own version, ACKs and NACKs; the sets are independent (a key and a route policy never
need to change together), and another stream is one more HTTP/2 stream to the same control
plane. Each stream is its own node (`-keys`, `-routes`, `-jwt`, `-introspectors`), so the
control plane's node list shows what each one ACKed.
"""

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
import httpx
from chaosgw.auth.v1 import auth_pb2
from google.protobuf.message import Message

from adsclient import AdsSubscriber, ResourcesRefused
from controlplane.logging import configure_logging
from controlplane.model.auth_api_keys import key_hasher
from extauthz import events
from extauthz.api_keys import ApiKeys, compile_keys
from extauthz.credentials import Verifier
from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION
from extauthz.introspection import Introspection, compile_introspectors
from extauthz.jwt_providers import compile_providers
from extauthz.jwt_verifier import JwtVerifier
from extauthz.policies import InvalidResources, RoutePolicies, compile_policies
from extauthz.servicer import AuthorizationServicer, add_to_server
from extauthz.sessions import Sessions
from extauthz.settings import Settings
from serviceprocess.grpc_port import add_grpc_port
from serviceprocess.health import HealthApp, HealthServer
from sessionstore.layout import Keys
from sessionstore.store import SessionCheck, async_client

log = logging.getLogger(__name__)

# The Python services' node group on the control plane (controlplane.xds.snapshot.POLICY_GROUP).
POLICY_GROUP = "chaosgw.policy"

M = TypeVar("M", bound=Message)
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
    node = f"{settings.node_id or 'extauthz-' + socket.gethostname()}-{index}"

    def subscription(
        suffix: str,
        message: type[M],
        compile_set: Callable[[Sequence[M]], T],
        apply: Callable[[T], None],
    ) -> AdsSubscriber[M]:
        return AdsSubscriber(
            settings.xds_address,
            node_id=f"{node}-{suffix}",
            group=POLICY_GROUP,
            type_url="type.googleapis.com/" + message.DESCRIPTOR.full_name,
            message=message,
            on_update=updater(compile_set, apply),
            # Its own: each subscriber notices a rotation for itself.
            tls=settings.tls_directory(),
        )

    api_keys = ApiKeys(key_hasher(settings.api_key_secret.get_secret_value().encode()))
    policies = RoutePolicies()
    tokens = JwtVerifier()
    # One client per process: connections to the providers are kept and reused. Proxies from
    # the environment are not used, nor redirects followed: only the declared endpoint is asked.
    http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
    introspection = Introspection(http, cache_size=settings.introspection_cache_size)
    subscriptions: dict[str, AdsSubscriber[Any]] = {
        "API keys": subscription("keys", auth_pb2.ApiKey, compile_keys, api_keys.replace),
        "route policies": subscription(
            "routes", auth_pb2.RoutePolicy, compile_policies, policies.replace
        ),
        "JWT providers": subscription(
            "jwt", auth_pb2.JwtProvider, compile_providers, tokens.replace
        ),
        "OAuth 2.0 introspectors": subscription(
            "introspectors",
            auth_pb2.OAuth2Introspector,
            compile_introspectors,
            introspection.replace,
        ),
    }
    redis = async_client(settings.redis_url, settings.redis_timeout_seconds)
    sessions = Sessions(SessionCheck(redis, Keys(settings.sessions_key_prefix)))
    server = grpc.aio.server()
    verifiers: dict[str, Verifier] = {
        API_KEY: api_keys,
        JWT: tokens,
        OAUTH2: introspection,
        SESSION: sessions,
    }
    add_to_server(AuthorizationServicer(policies, verifiers, tokens.locate), server)
    # The auth denials of every Envoy (their access logs), on the same port.
    detector = events.RepeatedFailures(
        settings.security_event_threshold,
        settings.security_event_window_seconds,
        settings.security_event_max_sources,
    )
    events.add_to_server(events.AccessLogSink(detector), server)
    address = f"{settings.grpc_host}:{settings.grpc_port_of(index)}"
    grpc_port = add_grpc_port(server, address, settings.tls_directory())
    await server.start()

    async def problems() -> list[str]:
        return [
            f"no {what} received from the control plane yet"
            for what, subscriber in subscriptions.items()
            if not subscriber.ready.is_set()
        ]

    health = HealthServer(HealthApp(problems), settings.grpc_host, settings.http_port_of(index))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, health.handle_exit, signum, None)
    tasks = [asyncio.create_task(s.run()) for s in subscriptions.values()]
    log.info(
        "extauthz process serving",
        extra={"index": index, "grpc_port": grpc_port, "http_port": settings.http_port_of(index)},
    )
    try:
        await health.serve()  # returns once a signal has set `should_exit`
    finally:
        for task in tasks:
            task.cancel()
        await server.stop(grace=1.0)
        await http.aclose()
        await redis.aclose()
        log.info("extauthz process stopped", extra={"index": index})


def run(settings: Settings, index: int) -> None:
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, index))


if __name__ == "__main__":
    # `python -m extauthz.worker INDEX`, as the launcher starts it; settings from the env.
    run(Settings(), int(sys.argv[1]))
