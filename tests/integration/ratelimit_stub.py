"""A tiny rate-limit service (Envoy's RateLimitService API) for wiring tests.

It records what Envoy asks and answers from a rule the test sets: a request carrying a
descriptor entry in `refuse` is OVER_LIMIT, anything else OK; both with the headers the real
service adds. It runs a grpc.aio server on its own thread and event loop, so a synchronous test
can drive Envoy with plain HTTP meanwhile.
"""

import asyncio
import threading
from typing import Any

import grpc
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc

from tests.integration.harness import LOCALHOST, free_port, wait_until

Descriptor = tuple[tuple[str, str], ...]

REFUSED_HEADERS = {"ratelimit-limit": "5", "ratelimit-remaining": "0", "retry-after": "60"}
ADMITTED_HEADERS = {"ratelimit-limit": "5", "ratelimit-remaining": "4"}


class _Servicer(rls_pb2_grpc.RateLimitServiceServicer):  # type: ignore[misc]
    def __init__(self, stub: "RateLimitStub") -> None:
        self._stub = stub

    async def ShouldRateLimit(self, request: Any, context: Any) -> Any:
        descriptors = tuple(
            tuple((entry.key, entry.value) for entry in descriptor.entries)
            for descriptor in request.descriptors
        )
        refused = self._stub.record(request.domain, descriptors)
        code = rls_pb2.RateLimitResponse.OVER_LIMIT if refused else rls_pb2.RateLimitResponse.OK
        headers = REFUSED_HEADERS if refused else ADMITTED_HEADERS
        return rls_pb2.RateLimitResponse(
            overall_code=code,
            response_headers_to_add=[{"key": k, "value": v} for k, v in headers.items()],
        )


class RateLimitStub:
    def __init__(self) -> None:
        self.port = free_port()
        self.address = f"{LOCALHOST}:{self.port}"
        # Any descriptor holding one of these entries is refused.
        self.refuse: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._calls: list[tuple[str, tuple[Descriptor, ...]]] = []
        self._loop = asyncio.new_event_loop()
        self._stopped = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="ratelimit-stub", daemon=True)
        self._serving = threading.Event()

    def record(self, domain: str, descriptors: tuple[Descriptor, ...]) -> bool:
        with self._lock:
            self._calls.append((domain, descriptors))
            refuse = set(self.refuse)
        return any(entry in refuse for descriptor in descriptors for entry in descriptor)

    def calls(self) -> list[tuple[str, tuple[Descriptor, ...]]]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def start(self) -> "RateLimitStub":
        self._thread.start()
        assert self._serving.wait(10.0), "the rate-limit stub did not start"
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10.0)

    def wait_for(self, description: str, predicate: Any, timeout: float = 5.0) -> Any:
        """The first recorded call that satisfies `predicate(domain, descriptors)`."""

        def found() -> Any:
            return next((call for call in self.calls() if predicate(*call)), None)

        return wait_until(found, timeout=timeout, description=description)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        server = grpc.aio.server()
        rls_pb2_grpc.add_RateLimitServiceServicer_to_server(_Servicer(self), server)
        server.add_insecure_port(self.address)
        await server.start()
        self._serving.set()
        await self._stopped.wait()
        await server.stop(grace=None)
