"""Subscribes by wildcard to one resource type and hands every full set to a callback.

The callback may refuse a set (raise `ResourcesRefused`): the subscriber then NACKs it with the
reason and the service keeps the last set it accepted, as Envoy does. A set that does not even
decode is refused the same way. The stream is reopened after any failure, with a capped,
jittered backoff, and the first request of a new stream tells the version held, so a control
plane that already serves it sends nothing new.
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

log = logging.getLogger(__name__)

_INVALID_ARGUMENT = 3  # google.rpc.Code, what a NACK's error_detail carries


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
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._target = target
        self._node = base_pb2.Node(id=node_id, cluster=group, user_agent_name="chaosgw")
        self._type_url = type_url
        self._message = message
        self._on_update = on_update
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        # The version of the last accepted set, told to the server when a stream (re)opens.
        self.version = ""
        self.ready = asyncio.Event()
        self.connected = False

    async def run(self) -> None:
        backoff = self._initial_backoff
        async with grpc.aio.insecure_channel(self._target) as channel:
            stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
            while True:
                try:
                    received = await self._stream(stub)
                except grpc.aio.AioRpcError as error:
                    log.warning(
                        "policy stream failed",
                        extra={"target": self._target, "code": error.code().name},
                    )
                    received = False
                finally:
                    self.connected = False
                # A stream that delivered something worked: start the backoff over.
                backoff = self._initial_backoff if received else min(backoff * 2, self._max_backoff)
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter

    async def _stream(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub) -> bool:
        """One stream, until it ends. Whether it delivered any response."""
        requests: asyncio.Queue[discovery_pb2.DiscoveryRequest] = asyncio.Queue()
        requests.put_nowait(
            discovery_pb2.DiscoveryRequest(
                node=self._node, type_url=self._type_url, version_info=self.version
            )
        )
        call = stub.StreamAggregatedResources(_drain(requests))
        received = False
        async for response in call:
            self.connected = received = True
            requests.put_nowait(self._answer(response))
        return received

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
