"""/livez, /readyz and /metrics of one service process (a bare ASGI app served by uvicorn,
without its own signal handling: the process stops everything itself).

Ready means: the service's own checks find no problem (its dependencies answer, its policies
have arrived from the control plane).
"""

import contextlib
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# What keeps the process from being ready, in words; nothing when it is.
Problems = Callable[[], Awaitable[list[str]]]


class HealthApp:
    def __init__(self, problems: Problems) -> None:
        self._problems = problems

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/livez":
            await _send(send, 200, b'{"status":"ok"}', "application/json")
        elif path == "/readyz":
            problems = await self._problems()
            body = (
                {"status": "unavailable", "reason": "; ".join(problems)}
                if problems
                else {"status": "ok"}
            )
            await _send(
                send, 503 if problems else 200, json.dumps(body).encode(), "application/json"
            )
        elif path == "/metrics":
            await _send(send, 200, generate_latest(), CONTENT_TYPE_LATEST)
        else:
            await _send(send, 404, b'{"status":"not found"}', "application/json")


class HealthServer(uvicorn.Server):
    """uvicorn serving `app` on host:port, without its own signal handling."""

    def __init__(self, app: HealthApp, host: str, port: int) -> None:
        super().__init__(
            uvicorn.Config(
                app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
            )
        )

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
