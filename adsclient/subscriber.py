"""Subscribes by wildcard to one resource type and hands every full set to a callback.

The callback may refuse a set (raise `ResourcesRefused`): the subscriber then NACKs it with the
reason and the service keeps the last set it accepted, as Envoy does. A set that does not even
decode is refused the same way. The stream is reopened after any failure, soon after one that
was up (a control plane restarting) and with a capped, jittered backoff after one that never
came up; the first request of a new stream tells the version held, so a control plane that
already serves it sends nothing new.
"""

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf.message import DecodeError

from tlsfiles.credentials import channel_credentials
from tlsfiles.directory import TlsDirectory

log = logging.getLogger(__name__)

_INVALID_ARGUMENT = 3  # google.rpc.Code, what a NACK's error_detail carries

# How long a subscriber may be away from a control plane that is back: its channel tries a
# new connection at most this long (+20 % jitter) after the last failed one. The control
# plane's readiness waits about this long for its subscribers to return (controlplane.api.ops),
# so a revocation made once it is ready reaches the services at once.
RECONNECT_MAX_SECONDS = 0.25

CHANNEL_OPTIONS = [
    # gRPC's defaults (1 s, growing to 120 s) would leave a restarted control plane without
    # its subscribers for seconds: revoked keys would still be accepted meanwhile.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", int(RECONNECT_MAX_SECONDS * 1000)),
    # Despite its name, gRPC uses this as the least time a connection attempt is given to
    # complete (TCP and, with mTLS, the handshake). Deliberately not the 250 ms above: on a
    # busy node a handshake cut short every time would never connect at all. Still far below
    # the 20 s default, so an attempt into a silent network is given up after a second.
    ("grpc.min_reconnect_backoff_ms", 1000),
]


# Answers that will not change by asking again at once.
_REFUSALS = frozenset(
    {
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


class _Message(Protocol):
    def ParseFromString(self, serialized: bytes, /) -> int: ...


M = TypeVar("M", bound=_Message)


class ResourcesRefused(Exception):
    """Raised by the callback: the set is NACKed with this message."""


class AdsSubscriber(Generic[M]):
    """Run with `await subscriber.run()` (until cancelled); `ready` is set once a set is taken."""

    def __init__(
        self,
        target: str,
        *,
        node_id: str,
        group: str,
        type_url: str,
        message: Callable[[], M],
        on_update: Callable[[Sequence[M]], None],
        resubscribe_delay: float = 0.25,
        max_backoff: float = 5.0,
        tls: TlsDirectory | None = None,
    ) -> None:
        # The service identity's certificate files for mTLS to the control plane, if any.
        self._tls = tls
        self._target = target
        self._node = base_pb2.Node(id=node_id, cluster=group, user_agent_name="chaosgw")
        self._type_url = type_url
        self._message = message
        self._on_update = on_update
        self._resubscribe_delay = resubscribe_delay
        self._max_backoff = max_backoff
        # The version of the last accepted set, told to the server when a stream (re)opens.
        self.version = ""
        self.ready = asyncio.Event()
        # Whether a stream is up: the server answered it with its response headers (it sends
        # them at once, even when it has nothing new to send).
        self.connected = False

    async def run(self) -> None:
        backoff = self._resubscribe_delay
        while True:
            async with self._channel() as channel:
                stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
                while True:
                    try:
                        await self._stream(stub)
                    except grpc.aio.AioRpcError as error:
                        log.warning(
                            "policy stream failed",
                            extra={"target": self._target, "code": error.code().name},
                        )
                        # Refused after the headers (the control plane checks the client's
                        # certificate against the group its first request names): not up.
                        refused = error.code() in _REFUSALS
                    else:
                        refused = False
                    finally:
                        up, self.connected = self.connected, False
                    up = up and not refused
                    # After a stream that was up, resubscribe soon: the channel itself waits for
                    # the control plane to come back. One that never came up, or that the server
                    # refused, is retried less and less often.
                    backoff = self._resubscribe_delay if up else min(backoff * 2, self._max_backoff)
                    await asyncio.sleep(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                    if self._tls is not None and self._tls.changed() is not None:
                        break  # rotated certificate files: a new channel presents them

    def _channel(self) -> grpc.aio.Channel:
        if self._tls is None:
            return grpc.aio.insecure_channel(self._target, options=CHANNEL_OPTIONS)
        credentials = channel_credentials(self._tls)
        return grpc.aio.secure_channel(self._target, credentials, options=CHANNEL_OPTIONS)

    async def _stream(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub) -> None:
        """One stream, until it ends."""
        requests: asyncio.Queue[discovery_pb2.DiscoveryRequest] = asyncio.Queue()
        requests.put_nowait(
            discovery_pb2.DiscoveryRequest(
                node=self._node, type_url=self._type_url, version_info=self.version
            )
        )
        # Waits for the channel to connect instead of failing at once while the control plane
        # is away, so the stream opens as soon as it is back.
        call = stub.StreamAggregatedResources(_drain(requests), wait_for_ready=True)
        await call.initial_metadata()
        # A call refused at once (headers and status together) never came up.
        self.connected = not call.done()
        async for response in call:
            requests.put_nowait(self._answer(response))

    def _answer(self, response: discovery_pb2.DiscoveryResponse) -> discovery_pb2.DiscoveryRequest:
        """Apply a response; the ACK or NACK to send back."""
        if response.type_url != self._type_url:
            return self._nack(response, f"not subscribed to {response.type_url}")
        try:
            self._on_update(self._decode(response.resources))
        except ResourcesRefused as refused:
            return self._nack(response, str(refused))
        self.version = response.version_info
        self.ready.set()
        log.info(
            "policies applied",
            extra={"version": self.version, "resources": len(response.resources)},
        )
        return discovery_pb2.DiscoveryRequest(
            type_url=self._type_url, version_info=self.version, response_nonce=response.nonce
        )

    def _decode(self, resources: Sequence[Any]) -> list[M]:
        decoded = []
        for resource in resources:
            if resource.type_url != self._type_url:
                raise ResourcesRefused(f"a resource of type {resource.type_url} in the set")
            message = self._message()
            try:
                message.ParseFromString(resource.value)
            except DecodeError as error:
                raise ResourcesRefused(f"a resource does not decode: {error}") from None
            decoded.append(message)
        return decoded

    def _nack(
        self, response: discovery_pb2.DiscoveryResponse, reason: str
    ) -> discovery_pb2.DiscoveryRequest:
        log.warning("policies refused", extra={"version": response.version_info, "reason": reason})
        request = discovery_pb2.DiscoveryRequest(
            type_url=self._type_url, version_info=self.version, response_nonce=response.nonce
        )
        request.error_detail.code = _INVALID_ARGUMENT
        request.error_detail.message = reason
        return request


async def _drain(
    requests: "asyncio.Queue[discovery_pb2.DiscoveryRequest]",
) -> AsyncIterator[discovery_pb2.DiscoveryRequest]:
    while True:
        yield await requests.get()
