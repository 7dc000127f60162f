"""A small echo upstream for development and integration tests.

Every HTTP request gets a JSON description of what arrived (method, path, query, headers) and an
`x-upstream: NAME` header, so a test can tell which upstream Envoy chose and what Envoy changed
on the way. A WebSocket upgrade on any path echoes every message back.

Its behaviour can be changed while it runs, to show what the gateway does with a slow or
failing backend (a dead one is a stopped process):

    PUT /_upstream  {"status": 503, "delay_seconds": 0}   every later request waits
                                                          delay_seconds, then answers status
    GET /_upstream  {"status": ..., "delay_seconds": ..., "received": N}

`received` counts the requests that arrived, control requests excepted. Health checks are requests
like any other: a failing upstream fails them too. `--tls-cert`/`--tls-key` serve HTTPS.

It is a bare ASGI app on uvicorn rather than a framework app: there is no routing to do, and
keeping the per-request work minimal lets it keep up with Envoy in bounded load tests.
"""

import argparse
import asyncio
import json
import signal
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from types import FrameType
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


CONTROL_PATH = "/_upstream"
MAX_DELAY_SECONDS = 600.0


class _Behaviour:
    def __init__(self) -> None:
        self.status = 200
        self.delay_seconds = 0.0
        self.received = 0

    def describe(self) -> dict[str, float]:
        return {
            "status": self.status,
            "delay_seconds": self.delay_seconds,
            "received": self.received,
        }

    def change(self, body: bytes) -> str | None:
        """Apply a control request's JSON body; the reason it is refused, if it is."""
        try:
            wanted = json.loads(body or b"{}")
        except ValueError:
            return "the body is not JSON"
        if not isinstance(wanted, dict) or set(wanted) - {"status", "delay_seconds"}:
            return "expected an object with status and/or delay_seconds"
        status = wanted.get("status", self.status)
        delay = wanted.get("delay_seconds", self.delay_seconds)
        if not isinstance(status, int) or not 200 <= status <= 599:
            return "status must be an integer from 200 to 599"
        if not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY_SECONDS:
            return f"delay_seconds must be a number from 0 to {MAX_DELAY_SECONDS:g}"
        self.status, self.delay_seconds = status, float(delay)
        return None


def make_app(name: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app of the upstream called `name`."""
    name_header = (b"x-upstream", name.encode())
    behaviour = _Behaviour()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _http(scope, receive, send)
        elif scope["type"] == "websocket":
            await _websocket(receive, send)
        # Lifespan is switched off in `run`; any other scope type has nothing to do here.

    async def _http(scope: Scope, receive: Receive, send: Send) -> None:
        # Read the request body so keep-alive connections stay usable; only control uses it.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        if scope["path"] == CONTROL_PATH:
            refused = behaviour.change(b"".join(chunks)) if scope["method"] == "PUT" else None
            status = 400 if refused else 200
            body = json.dumps({"error": refused} if refused else behaviour.describe()).encode()
        else:
            behaviour.received += 1
            if behaviour.delay_seconds:
                await asyncio.sleep(behaviour.delay_seconds)
            status = behaviour.status
            body = json.dumps(
                {
                    "upstream": name,
                    "method": scope["method"],
                    "path": scope["path"],
                    "query": scope["query_string"].decode("latin-1"),
                    "headers": _headers(scope["headers"]),
                }
            ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    name_header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _websocket(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.connect":
                # The header on the 101 answer lets a test see which upstream took the socket.
                await send({"type": "websocket.accept", "headers": [name_header]})
            elif kind == "websocket.receive":
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
            else:  # websocket.disconnect
                return

    return app


def _headers(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    # Repeated headers are joined the way HTTP allows folding them, so none is lost.
    headers: dict[str, str] = {}
    for key, value in raw:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def run(
    name: str,
    host: str = "127.0.0.1",
    port: int = 8081,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT; uvicorn's own handlers close connections and return."""
    config = uvicorn.Config(
        make_app(name),
        host=host,
        port=port,
        lifespan="off",
        server_header=False,
        access_log=False,  # a log line per request would dominate the cost of an echo
        log_level="warning",
        ws="websockets-sansio",
        # Pings would add timing noise to tests that hold sockets open; Envoy carries its own.
        ws_ping_interval=None,
        # SIGTERM must stop it promptly even while Envoy holds keep-alive connections open.
        timeout_graceful_shutdown=1,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again, so the process
    # would end "killed by SIGTERM"; this handler, restored by uvicorn, turns that into exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.Server(config).run()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaosgw upstream", description=__doc__)
    parser.add_argument("--name", required=True, help="returned in the body and x-upstream")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls-cert", help="PEM certificate (chain) file: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key file of --tls-cert")
    args = parser.parse_args(argv)
    run(args.name, args.host, args.port, args.tls_cert, args.tls_key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
