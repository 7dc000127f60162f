"""Runs the control plane: the admin API (uvicorn) and the ADS server (grpc.aio) on one loop."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator

import grpc
import uvicorn

from controlplane.api.app import create_app
from controlplane.jwks.cache import JwksCache
from controlplane.logging import configure_logging
from controlplane.settings import Settings
from controlplane.store.database import Database, SchemaState
from controlplane.store.state import StoreReader
from controlplane.translator import ExtAuthzService, RateLimitService
from controlplane.xds.authorization import Authorization
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.heap import HeapKeeper
from controlplane.xds.nodes import NodeRegistry
from controlplane.xds.publisher import SnapshotPublisher
from controlplane.xds.server import AggregatedDiscoveryService, add_to_server
from tlsfiles.credentials import server_credentials
from tlsfiles.directory import TlsDirectory
from tlsfiles.ssl_context import server_ssl_context

log = logging.getLogger(__name__)

# Envoy keeps one long-lived stream per node; let idle streams live and probe dead peers.
_GRPC_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling, which would re-raise SIGTERM after `serve()`
    returns and kill the process before the xDS server and the database are closed."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings) -> None:
    database = Database(settings.database_url)
    if settings.migrates_on_start():
        await asyncio.to_thread(database.migrate)
    elif await asyncio.to_thread(database.require_schema) is SchemaState.NEWER:
        log.warning("the database schema is newer than this release: a rollout is under way")

    store = StoreReader(database)
    cache = SnapshotCache()
    registry = NodeRegistry()
    ratelimit = RateLimitService.of(
        settings.ratelimit_endpoints,
        settings.ratelimit_timeout_seconds,
        settings.ratelimit_failure_mode_deny,
        settings.envoy_tls_dir,
    )
    extauthz = ExtAuthzService.of(
        settings.extauthz_endpoints, settings.extauthz_timeout_seconds, settings.envoy_tls_dir
    )
    # Remote key sets are fetched before a state with their provider is first published.
    jwks = JwksCache(on_change=lambda: publisher.changed())
    publisher = SnapshotPublisher(
        cache,
        lambda: jwks.attach(store.load_state()),
        store.revision,
        settings.revision_poll_seconds,
        ratelimit,
        extauthz,
        heap=HeapKeeper(),
    )
    # Envoys that connect at once must get the real config, not an empty one.
    await publisher.rebuild()

    xds = grpc.aio.server(options=_GRPC_OPTIONS)
    tls = settings.xds_tls_dir is not None
    add_to_server(
        AggregatedDiscoveryService(
            cache, registry, settings.ack_timeout_seconds, Authorization(tls=tls)
        ),
        xds,
    )
    xds_address = f"{settings.xds_host}:{settings.xds_port}"
    if settings.xds_tls_dir is not None:
        credentials = server_credentials(TlsDirectory(settings.xds_tls_dir))
        xds_port = xds.add_secure_port(xds_address, credentials)
    else:
        xds_port = xds.add_insecure_port(xds_address)
    await xds.start()
    xds_started_at = time.monotonic()

    config = uvicorn.Config(
        create_app(settings, database, publisher, registry, xds_started_at),
        host=settings.admin_host,
        port=settings.admin_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    if settings.admin_tls_dir is not None:
        # uvicorn keeps a loaded config's context: ours follows rotated files.
        config.load()
        config.ssl = server_ssl_context(
            TlsDirectory(settings.admin_tls_dir),
            require_client_cert=settings.admin_client_cert_required,
        )
    api = _EmbeddedServer(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, api.handle_exit, signum, None)
    publishing = asyncio.create_task(publisher.run())
    refreshing = asyncio.create_task(jwks.run())
    scheme = "https" if settings.admin_tls_dir is not None else "http"
    log.info(
        "control plane serving",
        extra={
            "admin": f"{scheme}://{settings.admin_host}:{settings.admin_port}",
            "xds": f"{settings.xds_host}:{xds_port}",
            "xds_tls": tls,
            "mode": settings.mode,
        },
    )
    try:
        await api.serve()  # returns once a signal has set `should_exit`
    finally:
        publishing.cancel()
        refreshing.cancel()
        await xds.stop(grace=1.0)
        jwks.close()
        database.dispose()
        log.info("control plane stopped")


def run(settings: Settings) -> None:
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
