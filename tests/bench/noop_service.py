"""gRPC services that decide nothing: every call is answered OK with bytes built once, without
even parsing the request. The baselines of the scenarios that put one of our gRPC services in
Envoy's path (`ratelimit`, `extauthz`): what one grpc.aio process costs per call, and nothing
more.

`python -m tests.bench.noop_service SERVICE PORT`, SERVICE one of `ratelimit`, `extauthz`;
SIGTERM ends it.
"""

import asyncio
import sys
from typing import Any

import grpc
from envoy.service.auth.v3 import external_auth_pb2
from envoy.service.ratelimit.v3 import rls_pb2
from google.rpc import status_pb2

# SERVICE -> (gRPC service, method, the answer to every call).
SERVICES: dict[str, tuple[str, str, bytes]] = {
    "ratelimit": (
        "envoy.service.ratelimit.v3.RateLimitService",
        "ShouldRateLimit",
        rls_pb2.RateLimitResponse(overall_code=rls_pb2.RateLimitResponse.OK).SerializeToString(),
    ),
    "extauthz": (
        "envoy.service.auth.v3.Authorization",
        "Check",
        external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=grpc.StatusCode.OK.value[0]),
            ok_response=external_auth_pb2.OkHttpResponse(),
        ).SerializeToString(),
    ),
}


async def serve(service: str, port: int) -> None:
    name, method, answer = SERVICES[service]

    async def ok(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return answer

    server = grpc.aio.server()
    # No (de)serializers: bytes in, bytes out, as the real services' handlers.
    handler = grpc.unary_unary_rpc_method_handler(ok)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(name, {method: handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in SERVICES:
        sys.exit(f"usage: python -m tests.bench.noop_service {{{','.join(SERVICES)}}} PORT")
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
