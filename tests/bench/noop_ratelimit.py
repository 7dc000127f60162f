"""A RateLimitService that decides nothing: every call is answered OK with bytes built once,
without even parsing the request. The baseline of the `ratelimit` scenario: what one grpc.aio
process costs per call, and nothing more.

`python -m tests.bench.noop_ratelimit PORT`; SIGTERM ends it.
"""

import asyncio
import sys
from typing import Any

import grpc
from envoy.service.ratelimit.v3 import rls_pb2

OK: bytes = rls_pb2.RateLimitResponse(overall_code=rls_pb2.RateLimitResponse.OK).SerializeToString()


async def _ok(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return OK


async def serve(port: int) -> None:
    server = grpc.aio.server()
    # No (de)serializers: bytes in, bytes out, as the real service's handler.
    handler = grpc.unary_unary_rpc_method_handler(_ok)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "envoy.service.ratelimit.v3.RateLimitService", {"ShouldRateLimit": handler}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
