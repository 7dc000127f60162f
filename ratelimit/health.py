"""/livez, /readyz and /metrics of one service process (a bare ASGI app served by uvicorn).

Ready means: Redis answers and a policy set has been received from the control plane.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class HealthApp:
    def __init__(
        self, redis_ok: Callable[[], Awaitable[bool]], policies_received: Callable[[], bool]
    ) -> None:
        self._redis_ok = redis_ok
        self._policies_received = policies_received

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/livez":
            await _send(send, 200, b'{"status":"ok"}', "application/json")
        elif path == "/readyz":
            problems = []
            if not self._policies_received():
                problems.append("no policies received from the control plane yet")
            if not await self._redis_ok():
                problems.append("redis unreachable")
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


async def _send(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
