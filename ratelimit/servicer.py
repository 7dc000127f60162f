"""The `envoy.service.ratelimit.v3.RateLimitService` gRPC service.

Registered as a generic handler that takes raw bytes: a request that does not decode gets
INVALID_ARGUMENT (not the INTERNAL grpcio would give), and the answer goes out as bytes built
once. No logging on the hot path.
"""

from typing import Any

import grpc
from envoy.service.ratelimit.v3 import rls_pb2
from google.protobuf.message import DecodeError

from ratelimit import metrics, response
from ratelimit.engine import Engine

DOMAIN = "chaosgw"
_SERVICE = "envoy.service.ratelimit.v3.RateLimitService"


class RateLimitServicer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def should_rate_limit(
        self, request_bytes: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        request = rls_pb2.RateLimitRequest()
        try:
            request.ParseFromString(request_bytes)
        except DecodeError:
            metrics.INVALID_REQUESTS.labels(reason="undecodable").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a RateLimitRequest")
        if request.domain != DOMAIN:
            metrics.INVALID_REQUESTS.labels(reason="domain").inc()
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"this service serves domain {DOMAIN!r} only"
            )
        if not request.descriptors:
            return response.EMPTY_OK
        descriptors = [
            [(entry.key, entry.value) for entry in descriptor.entries]
            for descriptor in request.descriptors
        ]
        decision = await self._engine.decide(descriptors, request.hits_addend)
        return response.build(decision)


def add_to_server(servicer: RateLimitServicer, server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(servicer.should_rate_limit)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, {"ShouldRateLimit": handler}),)
    )
