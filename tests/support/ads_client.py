"""An ADS client that talks to a control plane the way Envoy does (state of the world).

It subscribes by wildcard to clusters, and to listeners once its clusters are warm; by name to
the endpoints of the EDS clusters it received and to the route configurations its listeners
name over RDS. It answers every response: an ACK carries the response's version and nonce; a
NACK (when `decide` says so) carries the nonce, an error message and the last version it
accepted. It records every response, so tests can check what was pushed and in which order,
and it reconnects announcing the versions it holds, as Envoy does after a control-plane
restart.

It is cheap enough to run a thousand in one process: a response is parsed only as far as needed
to find its resources' names, and for clusters and listeners which endpoints and route
configurations to subscribe to. Waiting is deadline-based and woken by each response.
"""

import asyncio
import contextlib
import enum
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

_PREFIX = "type.googleapis.com/"
CLUSTER = _PREFIX + "envoy.config.cluster.v3.Cluster"
ENDPOINT = _PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = _PREFIX + "envoy.config.listener.v3.Listener"
ROUTE = _PREFIX + "envoy.config.route.v3.RouteConfiguration"
_HCM = _PREFIX + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_EDS = cluster_pb2.Cluster.EDS
# Fallback parsers for names that the fast path cannot read.
_MESSAGES: dict[str, tuple[Any, str]] = {
    CLUSTER: (cluster_pb2.Cluster, "name"),
    ENDPOINT: (endpoint_pb2.ClusterLoadAssignment, "cluster_name"),
    LISTENER: (listener_pb2.Listener, "name"),
    ROUTE: (route_pb2.RouteConfiguration, "name"),
}
_INVALID_ARGUMENT = 3  # google.rpc.Code, what Envoy puts in a NACK's error_detail

# Reconnect quickly after a control-plane restart (gRPC's default first backoff is 1 s).
CHANNEL_OPTIONS: Sequence[tuple[str, int]] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)


def short(type_url: str) -> str:
    """`type.googleapis.com/envoy.config.cluster.v3.Cluster` -> `Cluster`, for messages."""
    return type_url.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class Received:
    """One DiscoveryResponse as the client saw it."""

    type_url: str
    version: str
    names: tuple[str, ...]
    nonce: str
    at: float  # time.monotonic() on arrival

    def __str__(self) -> str:
        return f"{short(self.type_url)} {self.version} {list(self.names)} nonce={self.nonce}"


class Reply(enum.Enum):
    ACK = "ack"
    # Answer nothing for now; `AdsClient.release` answers later (a slow or stuck node).
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Nack:
    message: str


Decision = Reply | Nack
Decide = Callable[[Received], Decision]


class AdsWaitTimeout(AssertionError):
    """A wait on the client passed its deadline (an AssertionError: pytest shows it plainly)."""


class AdsStreamClosed(AssertionError):
    """The stream ended while a test waited on it."""


def discovery_request(
    type_url: str,
    *,
    version: str = "",
    nonce: str = "",
    names: Iterable[str] = (),
    error: str | None = None,
    node: Any = None,
) -> Any:
    request = discovery_pb2.DiscoveryRequest(
        version_info=version, type_url=type_url, response_nonce=nonce, resource_names=names
    )
    if error is not None:
        request.error_detail.code = _INVALID_ARGUMENT
        request.error_detail.message = error
    if node is not None:
        request.node.CopyFrom(node)
    return request


@dataclass
class _Held:
    received: Received
    # Names of the dependent type (EDS for clusters, RDS for listeners) this response asks for.
    children: frozenset[str] | None


@dataclass
class _Stream:
    call: Any  # grpc.aio.StreamStreamCall of the ADS method
    reader: "asyncio.Task[None] | None" = None
    nonces: dict[str, str] = field(default_factory=dict)
    node_sent: bool = False
    ended: bool = False


class AdsClient:
    """One fake Envoy. Use `async with AdsClient(target, node_id, group) as client: ...`."""

    def __init__(
        self,
        target: str | grpc.aio.Channel,
        node_id: str,
        group: str,
        *,
        decide: Decide | None = None,
        eager: bool = False,
    ) -> None:
        """`target` is a `host:port` (the client owns its channel) or a shared channel.

        `decide` tells how to answer each response (ACK when absent). With `eager`, listeners
        are subscribed at once instead of after the clusters are warm, as Envoy does.
        """
        if isinstance(target, str):
            self._channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
            self._owns_channel = True
        else:
            self._channel, self._owns_channel = target, False
        self._stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel)
        self.node_id = node_id
        self.group = group
        self.decide = decide
        self._eager = eager
        self.received: list[Received] = []
        # Why the last stream ended, when it was not closed by the client.
        self.error: BaseException | None = None
        # Subscriptions in the order they were made; None is a wildcard.
        self._subscribed: dict[str, frozenset[str] | None] = {}
        self._acked: dict[str, str] = {}
        self._answered: set[str] = set()  # types with a response ACKed or NACKed
        self._latest: dict[str, Received] = {}
        self._held: dict[str, _Held] = {}
        self._endpoints_seen: set[str] = set()
        self._stream: _Stream | None = None
        self._write_lock = asyncio.Lock()
        self._activity = asyncio.Condition()

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open a stream. The first one subscribes; later ones resume what the client holds."""
        if self._stream is not None and not self._stream.ended:
            raise RuntimeError("already connected; use reconnect()")
        self._stream = stream = _Stream(self._stub.StreamAggregatedResources(wait_for_ready=True))
        self._held.clear()
        self.error = None
        if not self._subscribed:
            self._subscribed[CLUSTER] = None
            if self._eager:
                self._subscribed[LISTENER] = None
        # Like Envoy on a new stream: one request per subscription, in subscription order,
        # announcing the last version accepted of each.
        for type_url, names in self._subscribed.items():
            await self._write(
                stream,
                discovery_request(
                    type_url, version=self._acked.get(type_url, ""), names=sorted(names or ())
                ),
            )
        stream.reader = asyncio.create_task(self._read(stream), name=f"ads-client-{self.node_id}")

    async def disconnect(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if stream.reader is not None:
            stream.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream.reader
        stream.call.cancel()
        stream.ended = True
        await self._notify()

    async def reconnect(self) -> None:
        """Drop the stream and open a new one announcing the last ACKed versions."""
        await self.disconnect()
        await self.connect()

    async def close(self) -> None:
        await self.disconnect()
        if self._owns_channel:
            await self._channel.close(None)

    # -- what the client holds -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._stream is not None and not self._stream.ended

    @property
    def acked(self) -> Mapping[str, str]:
        """The last version ACKed of each type (what `version_info` announces)."""
        return self._acked

    @property
    def subscriptions(self) -> Mapping[str, frozenset[str] | None]:
        """Names subscribed to per type, None for a wildcard subscription."""
        return self._subscribed

    def latest(self, type_url: str) -> Received | None:
        return self._latest.get(type_url)

    def held(self, type_url: str) -> Received | None:
        held = self._held.get(type_url)
        return None if held is None else held.received

    def mark(self) -> int:
        """A position in `received`; `since(mark)` gives what arrived after it."""
        return len(self.received)

    def since(self, mark: int) -> list[Received]:
        return self.received[mark:]

    def describe(self, last: int = 12) -> str:
        lines = [str(received) for received in self.received[-last:]]
        return f"node {self.node_id!r}, last responses:\n  " + "\n  ".join(lines or ["(none)"])

    # -- waiting ---------------------------------------------------------------------------

    # The waits take their own deadline (ASYNC109) so that a timeout says what was awaited and
    # what had arrived.
    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        """Wait until `predicate()` holds, re-checking it after every response."""
        async with self._activity:
            if predicate():
                return
            try:
                await asyncio.wait_for(
                    self._activity.wait_for(lambda: predicate() or not self.connected), timeout
                )
            except TimeoutError:
                raise AdsWaitTimeout(
                    f"timed out after {timeout:g}s waiting for {what}; {self.describe()}"
                ) from None
            if not predicate():
                raise AdsStreamClosed(
                    f"stream closed ({self.error!r}) while waiting for {what}; {self.describe()}"
                )

    async def wait_for_version(
        self,
        type_url: str,
        version: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """Wait until the client has ACKed `version` of `type_url`."""
        await self.wait_until(
            lambda: self._acked.get(type_url) == version,
            timeout,
            f"ACK of {short(type_url)} {version}",
        )

    async def wait_synced(
        self,
        versions: Mapping[str, str],
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """Wait until the client has ACKed every `type_url: version` given."""
        await self.wait_until(
            lambda: all(self._acked.get(url) == version for url, version in versions.items()),
            timeout,
            "ACK of " + ", ".join(f"{short(url)} {v}" for url, v in versions.items()),
        )

    async def wait_for_response(
        self,
        type_url: str,
        *,
        since: int,
        timeout: float,  # noqa: ASYNC109
        count: int = 1,
    ) -> Received:
        """Wait for the `count`-th response of `type_url` after mark `since`; return it."""

        def arrived() -> list[Received]:
            return [r for r in self.received[since:] if r.type_url == type_url]

        await self.wait_until(
            lambda: len(arrived()) >= count, timeout, f"{count} {short(type_url)} response(s)"
        )
        return arrived()[count - 1]

    # -- answering by hand -----------------------------------------------------------------

    async def release(self, type_url: str, decision: Decision = Reply.ACK) -> Received:
        """Answer the held response of `type_url` (see `Reply.HOLD`)."""
        held = self._held.pop(type_url)
        if decision is Reply.HOLD:
            raise ValueError("release() needs an ACK or a NACK")
        await self._answer(self._current(), held, decision)
        await self._notify()
        return held.received

    async def send(self, request: Any) -> None:
        """Write a raw DiscoveryRequest on the current stream."""
        await self._write(self._current(), request)

    # -- internals -------------------------------------------------------------------------

    def _current(self) -> _Stream:
        if self._stream is None or self._stream.ended:
            raise AdsStreamClosed(f"node {self.node_id!r} is not connected")
        return self._stream

    async def _write(self, stream: _Stream, request: Any) -> None:
        async with self._write_lock:
            if not stream.node_sent:
                # Like Envoy with set_node_on_first_message_only.
                request.node.id = self.node_id
                request.node.cluster = self.group
                request.node.user_agent_name = "chaosgw-ads-client"
                stream.node_sent = True
            await stream.call.write(request)

    async def _notify(self) -> None:
        async with self._activity:
            self._activity.notify_all()

    async def _read(self, stream: _Stream) -> None:
        try:
            async for response in stream.call:
                await self._on_response(stream, response)
                await self._notify()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the server closed the stream, or a write failed
            self.error = error
        finally:
            stream.ended = True
        await self._notify()

    async def _on_response(self, stream: _Stream, response: Any) -> None:
        type_url = response.type_url
        stream.nonces[type_url] = response.nonce
        children: frozenset[str] | None = None
        if type_url == CLUSTER:
            names, children = _clusters(response.resources)
        elif type_url == LISTENER:
            names, children = _listeners(response.resources)
        else:
            names = tuple(_name(type_url, resource.value) for resource in response.resources)
        received = Received(
            type_url, response.version_info, names, response.nonce, time.monotonic()
        )
        self.received.append(received)
        self._latest[type_url] = received
        held = _Held(received, children)
        decision = Reply.ACK if self.decide is None else self.decide(received)
        if decision is Reply.HOLD:
            self._held[type_url] = held
        else:
            await self._answer(stream, held, decision)

    async def _answer(self, stream: _Stream, held: _Held, decision: Decision) -> None:
        received = held.received
        type_url = received.type_url
        self._answered.add(type_url)
        if type_url == ENDPOINT:
            # Envoy ends a cluster's warm-up on its endpoints, accepted or rejected.
            self._endpoints_seen.update(received.names)
        if isinstance(decision, Nack):
            # A NACK keeps announcing the last version accepted, and applies nothing.
            await self._write(
                stream,
                discovery_request(
                    type_url,
                    version=self._acked.get(type_url, ""),
                    nonce=received.nonce,
                    names=self._names(type_url),
                    error=decision.message,
                ),
            )
            await self._start_listeners(stream)
            return
        # Apply first, as Envoy does: a new cluster or listener subscribes to its endpoints or
        # routes before the response that brought it is ACKed.
        if type_url == CLUSTER and held.children is not None:
            await self._subscribe(stream, ENDPOINT, held.children)
        elif type_url == LISTENER and held.children is not None:
            await self._subscribe(stream, ROUTE, held.children)
        self._acked[type_url] = received.version
        await self._write(
            stream,
            discovery_request(
                type_url,
                version=received.version,
                nonce=received.nonce,
                names=self._names(type_url),
            ),
        )
        await self._start_listeners(stream)

    async def _start_listeners(self, stream: _Stream) -> None:
        """Envoy asks for listeners once its clusters are initialized: the first clusters
        response was answered (a rejected one counts) and their endpoints have arrived."""
        if LISTENER in self._subscribed or CLUSTER not in self._answered:
            return
        if (self._subscribed.get(ENDPOINT) or frozenset()) <= self._endpoints_seen:
            await self._subscribe(stream, LISTENER, None)

    def _names(self, type_url: str) -> list[str]:
        return sorted(self._subscribed.get(type_url) or ())

    async def _subscribe(
        self, stream: _Stream, type_url: str, names: frozenset[str] | None
    ) -> None:
        if type_url in self._subscribed:
            if self._subscribed[type_url] == names:
                return
        elif names is not None and not names:
            return  # nothing to ask for yet
        self._subscribed[type_url] = names
        await self._write(
            stream,
            discovery_request(
                type_url,
                version=self._acked.get(type_url, ""),
                nonce=stream.nonces.get(type_url, ""),
                names=sorted(names or ()),
            ),
        )


def _clusters(resources: Iterable[Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """Cluster names, and the EDS names of the clusters that take endpoints over EDS."""
    names = []
    endpoints = set()
    for resource in resources:
        cluster = cluster_pb2.Cluster.FromString(resource.value)
        names.append(cluster.name)
        if cluster.WhichOneof("cluster_discovery_type") == "type" and cluster.type == _EDS:
            endpoints.add(cluster.eds_cluster_config.service_name or cluster.name)
    return tuple(names), frozenset(endpoints)


def _listeners(resources: Iterable[Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """Listener names, and the route configurations their HTTP connection managers fetch."""
    names = []
    routes = set()
    for resource in resources:
        listener = listener_pb2.Listener.FromString(resource.value)
        names.append(listener.name)
        chains = list(listener.filter_chains)
        if listener.HasField("default_filter_chain"):
            chains.append(listener.default_filter_chain)
        for chain in chains:
            for network_filter in chain.filters:
                if network_filter.typed_config.type_url == _HCM:
                    manager = hcm_pb2.HttpConnectionManager.FromString(
                        network_filter.typed_config.value
                    )
                    if manager.HasField("rds"):
                        routes.add(manager.rds.route_config_name)
    return tuple(names), frozenset(routes)


def _name(type_url: str, value: bytes) -> str:
    """The name of a serialized resource, without parsing all of it.

    Every resource type served here keeps its name in field 1, which serializers write first;
    read it straight from the wire and fall back to a full parse otherwise.
    """
    if value[:1] == b"\x0a":  # field 1, length-delimited
        length, shift, index = 0, 0, 1
        while index < len(value):
            byte = value[index]
            index += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                if index + length <= len(value):
                    return value[index : index + length].decode()
                break
            shift += 7
    parser = _MESSAGES.get(type_url)
    if parser is None:
        return ""
    message_type, field_name = parser
    return str(getattr(message_type.FromString(value), field_name))
