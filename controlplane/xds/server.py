"""The Aggregated Discovery Service: state-of-the-world xDS over one gRPC stream per node.

Per stream, a reader task takes Envoy's requests (subscriptions, ACKs, NACKs) and the stream
method itself sends responses. A push walks the types in make-before-break order (clusters,
endpoints, listeners, routes) and waits for each to be ACKed before the next, so a route never
names a cluster the node does not have warm yet; clusters that disappear are removed last.
Only what changed is sent, and nothing at all when nothing changed.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2

from controlplane.translator.wire import serialize
from controlplane.xds import metrics
from controlplane.xds.authorization import (
    UNCHECKED,
    Authorization,
    Peer,
    StreamRefused,
    refused,
)
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.nodes import NodeRegistry, admin_url_of
from controlplane.xds.snapshot import (
    CLUSTER,
    PUSH_STAGES,
    STAGED_TYPES,
    WILDCARD_TYPES,
    Resource,
    Snapshot,
    TypeSnapshot,
)

log = logging.getLogger(__name__)

DEFAULT_GROUP = "default"
CONTROL_PLANE_ID = "chaos-gateway"

# Envoy re-warms a changed cluster and waits for its endpoints again, even when they did not
# change (go-control-plane#245, envoy#17483); likewise a changed listener re-reads its routes.
# After pushing the parent type, the dependent resources of changed parents are resent.
_DEPENDENT = dict(PUSH_STAGES)


_CONTROL_PLANE = base_pb2.ControlPlane(identifier=CONTROL_PLANE_ID)


class StreamClosed(Exception):
    """The node went away while a push was waiting on it."""


@dataclass
class _TypeState:
    """What one stream has asked for and holds, for one resource type."""

    wildcard: bool = False
    names: frozenset[str] = frozenset()
    # The content the node holds for every name it subscribes to, when known.
    synced: TypeSnapshot | None = None
    # Subscribed names whose content must be (re)sent whatever `synced` says.
    stale: set[str] = field(default_factory=set)
    nonce: str | None = None
    awaiting_ack: bool = False
    # What the last response sent, the node last ACKed, and the version it NACKed since.
    sent: TypeSnapshot | None = None
    accepted: TypeSnapshot | None = None
    rejected: str | None = None


class AdsStream:
    """One node's ADS stream."""

    def __init__(
        self,
        cache: SnapshotCache,
        registry: NodeRegistry,
        ack_timeout: float,
        peer: str,
        authorized: Peer = UNCHECKED,
    ) -> None:
        self._cache = cache
        self._authorized = authorized
        self._registry = registry
        self._ack_timeout = ack_timeout
        self._peer = peer
        self._types: dict[str, _TypeState] = {}
        self._nonce = 0
        self._activity = asyncio.Condition()
        self._closed = False
        self._wake = asyncio.Event()
        self.node_id = ""
        self.group = DEFAULT_GROUP
        self._built_at: dict[str, float] = {}

    # -- reading ---------------------------------------------------------------------------

    async def read(self, requests: AsyncIterator[Any], identified: asyncio.Future[None]) -> None:
        try:
            async for request in requests:
                if not self.node_id:
                    group = request.node.cluster or DEFAULT_GROUP
                    try:
                        self._authorized.check(group)
                    except StreamRefused as error:
                        refused(error, request.node.id, group, self._peer)
                        identified.set_exception(error)
                        return
                    self._identify(request)
                    identified.set_result(None)
                self._on_request(request)
                async with self._activity:
                    self._activity.notify_all()
                self._wake.set()
        finally:
            self._closed = True
            if not identified.done():
                identified.set_exception(StreamClosed())
            async with self._activity:
                self._activity.notify_all()
            self._wake.set()

    def _identify(self, request: Any) -> None:
        node = request.node
        self.node_id = node.id or self._peer
        self.group = node.cluster or DEFAULT_GROUP
        agent = node.user_agent_name
        build = node.user_agent_build_version.version
        version = ".".join(
            str(part) for part in (build.major_number, build.minor_number, build.patch)
        )
        self._registry.connected(
            self.node_id,
            self.group,
            self._peer,
            f"{agent}/{version}",
            admin_url_of(node.metadata, self._peer),
        )
        metrics.XDS_CONNECTED_NODES.labels(group=self.group).inc()
        log.info("node connected", extra={"node": self.node_id, "group": self.group})

    def _on_request(self, request: Any) -> None:
        type_url = request.type_url
        state = self._types.setdefault(type_url, _TypeState())
        self._subscribe(type_url, state, request)
        if not request.response_nonce:
            # A first request, or a reconnect: the node tells which version it already holds.
            current = self._cache.get(self.group).of_type(type_url)
            if request.version_info and request.version_info == current.version:
                state.synced, state.stale = current, set()
                state.accepted = current
                self._registry.acked(self.node_id, type_url, request.version_info)
            return
        if request.response_nonce != state.nonce:
            return  # Stale nonce: answers a response that has been superseded since.
        if not state.awaiting_ack:
            return  # Answered already: this request only changes the subscription.
        state.awaiting_ack = False
        if request.HasField("error_detail"):
            # The node keeps what it had: compare with that from now on. The rejected version
            # is not sent again (see _response), nor what depends on it (see _push).
            rejected = state.rejected = state.sent.version if state.sent is not None else ""
            state.synced = state.accepted
            error = request.error_detail.message
            metrics.XDS_NACKS.labels(type_url=type_url).inc()
            self._registry.nacked(self.node_id, type_url, rejected, error)
            log.warning(
                "node rejected config",
                extra={
                    "node": self.node_id,
                    "type_url": type_url,
                    "version": rejected,
                    "error": error,
                },
            )
        else:
            state.accepted, state.rejected = state.sent, None
            self._registry.acked(self.node_id, type_url, request.version_info)
            built_at = self._built_at.pop(type_url, None)
            if built_at is not None:
                metrics.XDS_PROPAGATION.labels(type_url=type_url).observe(
                    time.monotonic() - built_at
                )

    def _subscribe(self, type_url: str, state: _TypeState, request: Any) -> None:
        names = request.resource_names
        state.wildcard = type_url in WILDCARD_TYPES and (not names or "*" in names)
        if state.wildcard:
            return
        current = self._cache.get(self.group).of_type(type_url)
        # Share the snapshot's name set when the node asks for all of it (the usual case).
        wanted = (
            current.names
            if len(names) == len(current.names) and all(name in current.names for name in names)
            else frozenset(names)
        )
        if wanted != state.names:
            state.stale |= wanted - state.names
            state.stale &= wanted
            state.names = wanted

    # -- sending ---------------------------------------------------------------------------

    async def responses(self) -> AsyncIterator[Any]:
        """Push whenever the group's snapshot changes or the node asks for something new."""
        while not self._closed:
            changed = self._cache.changed_event(self.group)
            self._wake.clear()
            snapshot = self._cache.get(self.group)
            try:
                async for response in self._push(snapshot):
                    yield response
            except StreamClosed:
                return
            wake = asyncio.ensure_future(self._wake.wait())
            change = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait({wake, change}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                wake.cancel()
                change.cancel()

    async def _push(self, snapshot: Snapshot) -> AsyncIterator[Any]:
        removal: TypeSnapshot | None = None
        refused = False
        for parent, child in PUSH_STAGES:
            if refused:
                # Later stages may name what the node refused; removing stale clusters could
                # break the routes it still holds. Wait for the next change.
                break
            parent_state = self._types.get(parent)
            parent_sent = False
            desired = snapshot.of_type(parent)
            if parent_state is not None:
                if parent == CLUSTER and parent_state.synced is not None:
                    # Keep leaving clusters until listeners and routes stop naming them, even
                    # when nothing else changed (then the union is what the node holds and
                    # this stage sends nothing).
                    leaving = parent_state.synced.names - desired.names
                    if leaving:
                        removal = desired
                        desired = TypeSnapshot.of(
                            CLUSTER,
                            [
                                *desired.resources.values(),
                                *(parent_state.synced.resources[name] for name in leaving),
                            ],
                        )
                response = self._response(parent, parent_state, desired, snapshot)
                if response is not None:
                    yield response
                    parent_sent = True
                    # Envoy holds back the ACK of new clusters until their endpoints arrive,
                    # so go on as soon as it has subscribed to the children.
                    await self._wait_for(
                        partial(self._parent_done, parent_state, child, snapshot),
                        f"ACK of {parent} or subscription to {child}",
                    )
            child_state = self._types.get(child)
            if child_state is not None:
                response = self._response(child, child_state, snapshot.of_type(child), snapshot)
                if response is not None:
                    yield response
                    await self._await_ack(child_state)
            if parent_sent and parent_state is not None:
                await self._await_ack(parent_state)
            refused = _refused(parent_state, desired) or _refused(
                child_state, snapshot.of_type(child)
            )
        # A copy: the node may subscribe to more types while a response awaits its ACK.
        for type_url, state in list(self._types.items()):
            if type_url not in STAGED_TYPES:
                response = self._response(type_url, state, snapshot.of_type(type_url), snapshot)
                if response is not None:
                    yield response
                    await self._await_ack(state)
        if removal is not None and not refused:
            state = self._types[CLUSTER]
            response = self._response(CLUSTER, state, removal, snapshot)
            if response is not None:
                yield response
                await self._await_ack(state)

    def _parent_done(self, parent: _TypeState, child: str, snapshot: Snapshot) -> bool:
        child_state = self._types.get(child)
        subscribed = child_state is not None and snapshot.of_type(child).names <= child_state.names
        return subscribed or not parent.awaiting_ack

    def _changed(self, state: _TypeState, desired: TypeSnapshot) -> set[str]:
        """Subscribed names whose content the node does not hold as `desired` has it."""
        names = desired.names if state.wildcard else state.names & desired.names
        synced = state.synced
        if synced is desired:
            return set(state.stale & names)
        if synced is None:
            return set(names)
        return set((desired.changed_since(synced) | state.stale) & names)

    def _response(
        self, type_url: str, state: _TypeState, desired: TypeSnapshot, snapshot: Snapshot
    ) -> bytes | None:
        changed = self._changed(state, desired)
        if desired.version == state.rejected and not changed & state.stale:
            # The node refused exactly this: send it again once it changes, or when the node
            # subscribes to more names (they are owed a response).
            return None
        if state.wildcard:
            # A wildcard response always carries the full set; send one when anything differs,
            # and always answer a node that has nothing yet (it waits for it to start).
            gone = state.synced is not None and bool(state.synced.names - desired.names)
            if state.synced is not None and not changed and not gone:
                return None
            resources: Iterable[Resource] = desired.resources.values()
        else:
            if not changed:
                return None
            resources = (desired.resources[name] for name in sorted(changed))
        dependent = _DEPENDENT.get(type_url)
        if dependent is not None and dependent in self._types:
            self._types[dependent].stale |= changed
        self._nonce += 1
        state.nonce = str(self._nonce)
        state.sent = desired
        state.synced, state.stale = desired, set()
        state.awaiting_ack = True
        self._built_at[type_url] = snapshot.built_at
        self._registry.sent(self.node_id, type_url, desired.version)
        metrics.XDS_PUSHES.labels(type_url=type_url).inc()
        # The resources are spliced in as already encoded: no per-node copy or serialization.
        envelope = discovery_pb2.DiscoveryResponse(
            version_info=desired.version,
            type_url=type_url,
            nonce=state.nonce,
            control_plane=_CONTROL_PLANE,
        )
        return serialize(envelope) + b"".join(resource.encoded for resource in resources)

    async def _await_ack(self, state: _TypeState) -> None:
        await self._wait_for(lambda: not state.awaiting_ack, "ACK")

    async def _wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self._ack_timeout
        async with self._activity:
            while not condition():
                if self._closed:
                    raise StreamClosed
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("node is slow", extra={"node": self.node_id, "waiting_for": what})
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._activity.wait(), remaining)


def _refused(state: _TypeState | None, desired: TypeSnapshot) -> bool:
    """Whether the node NACKed `desired` while it holds earlier content that works.

    A node that never accepted anything has nothing to lose, and still gets the rest.
    """
    return state is not None and state.rejected == desired.version and state.accepted is not None


class AggregatedDiscoveryService:
    """The ADS gRPC service. Register it with `add_to_server`: its stream yields responses
    already encoded as bytes."""

    def __init__(
        self,
        cache: SnapshotCache,
        registry: NodeRegistry,
        ack_timeout: float,
        authorization: Authorization | None = None,
    ) -> None:
        self._cache = cache
        self._registry = registry
        self._ack_timeout = ack_timeout
        self._authorization = authorization or Authorization(tls=False)

    async def StreamAggregatedResources(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        # First of all: who the client is decides what it may read (checked against the node
        # group its first request names, before the stream is registered or answered).
        authorized = self._authorization.peer(context)
        # Headers at once, before any response: a client that already holds the current config
        # gets no response, and still knows it is connected (adsclient counts a stream as up
        # from here, and a restarted control plane is ready once its subscribers are back).
        await context.send_initial_metadata(())
        stream = AdsStream(
            self._cache, self._registry, self._ack_timeout, context.peer(), authorized
        )
        identified: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(stream.read(request_iterator, identified))
        try:
            try:
                await identified
            except StreamClosed:
                return
            except StreamRefused as error:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
            async for response in stream.responses():
                yield response
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if stream.node_id:
                self._registry.disconnected(stream.node_id)
                metrics.XDS_CONNECTED_NODES.labels(group=stream.group).dec()
                log.info("node disconnected", extra={"node": stream.node_id})

    async def DeltaAggregatedResources(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "this control plane serves state-of-the-world ADS; configure Envoy with api_type GRPC",
        )
        yield b""  # pragma: no cover - makes this an async generator like the stub expects


_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"


def add_to_server(service: AggregatedDiscoveryService, server: grpc.aio.Server) -> None:
    """Register `service` on `server`, sending its pre-encoded responses as they are."""
    handlers = {
        "StreamAggregatedResources": grpc.stream_stream_rpc_method_handler(
            service.StreamAggregatedResources,
            request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
            response_serializer=_as_is,
        ),
        "DeltaAggregatedResources": grpc.stream_stream_rpc_method_handler(
            service.DeltaAggregatedResources,
            request_deserializer=discovery_pb2.DeltaDiscoveryRequest.FromString,
            response_serializer=_as_is,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(_SERVICE, handlers),))


def _as_is(encoded: bytes) -> bytes:
    return encoded
