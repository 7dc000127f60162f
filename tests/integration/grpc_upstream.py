"""A tiny gRPC upstream (grpc.aio) for tests, run as its own process:
`python -m tests.integration.grpc_upstream --name NAME --port PORT`.

It serves, with raw bytes and no generated code:

- `grpc.health.v1.Health/Check`, answering the status it was told (SERVING at start), as a
  health-checking Envoy asks it;
- `chaosgw.test.Upstream/Echo`: answers `NAME:` followed by the request's bytes, with the
  trailing metadata `x-upstream: NAME`;
- `chaosgw.test.Upstream/Fail`: answers status NOT_FOUND with the message `no such player`;
- `chaosgw.test.Upstream/SetServing`: the request body `SERVING` or `NOT_SERVING` becomes the
  status Health/Check answers from then on (tests call it directly, not through Envoy).
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from tests.integration.harness import LOCALHOST, ProcessGroup, free_port, wait_until

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
ECHO = "/chaosgw.test.Upstream/Echo"
FAIL = "/chaosgw.test.Upstream/Fail"
SET_SERVING = "/chaosgw.test.Upstream/SetServing"

# grpc.health.v1.HealthCheckResponse: field 1 (status) as a varint.
Context = grpc.aio.ServicerContext[bytes, bytes]
_STATUS_CODES = {"SERVING": 1, "NOT_SERVING": 2}


def health_response(status: str) -> bytes:
    return bytes([0x08, _STATUS_CODES[status]])


class _Upstream:
    def __init__(self, name: str) -> None:
        self.name = name
        self.status = "SERVING"

    def handlers(self) -> "list[grpc.GenericRpcHandler[bytes, bytes]]":
        # No (de)serializers: every method takes and returns bytes.
        def unary(method: Any) -> "grpc.RpcMethodHandler[bytes, bytes]":
            return grpc.unary_unary_rpc_method_handler(method)

        return [
            grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health", {"Check": unary(self._check)}
            ),
            grpc.method_handlers_generic_handler(
                "chaosgw.test.Upstream",
                {
                    "Echo": unary(self._echo),
                    "Fail": unary(self._fail),
                    "SetServing": unary(self._set_serving),
                },
            ),
        ]

    async def _check(self, request: bytes, context: Context) -> bytes:
        return health_response(self.status)

    async def _echo(self, request: bytes, context: Context) -> bytes:
        context.set_trailing_metadata((("x-upstream", self.name),))
        return self.name.encode() + b":" + request

    async def _fail(self, request: bytes, context: Context) -> bytes:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such player")

    async def _set_serving(self, request: bytes, context: Context) -> bytes:
        status = request.decode()
        if status not in _STATUS_CODES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "SERVING or NOT_SERVING")
        self.status = status
        return request


async def serve(name: str, host: str, port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(_Upstream(name).handlers())
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await server.wait_for_termination()


class GrpcUpstream:
    """This server in a process of its own, stopped with its process group."""

    def __init__(self, processes: ProcessGroup, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"{LOCALHOST}:{self.port}"
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": root}
        args = [sys.executable, "-m", "tests.integration.grpc_upstream", "--name", name]
        self.process = processes.spawn(f"grpc-{name}", [*args, "--port", str(self.port)], env=env)
        self._channel = grpc.insecure_channel(self.address)

    def call(self, method: str, request: bytes = b"") -> bytes:
        answer: bytes = self._channel.unary_unary(method, None, None)(request, timeout=2.0)
        return answer

    def wait_serving(self, timeout: float = 10.0) -> None:
        wait_until(
            lambda: self.call(ECHO, b"ping") == f"{self.name}:ping".encode(),
            timeout=timeout,
            description=f"gRPC upstream {self.name} on {self.address}",
            ignore=(grpc.RpcError,),
            alive=[self.process],
        )

    def set_serving(self, status: str) -> None:
        """What its grpc.health.v1 service answers from now on: SERVING or NOT_SERVING."""
        self.call(SET_SERVING, status.encode())

    def close(self) -> None:
        self._channel.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.name, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
