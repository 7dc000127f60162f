"""Per-request access log line and request metrics, labelled by route template.

Labels and log fields use the route template (`/api/v1/routes/{name}`), never the raw path,
so resource names never multiply metric series. No header values or bodies are logged.
"""

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane import metrics
from controlplane.logging import log_fields

log = logging.getLogger("controlplane.api.access")

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Envoy's x-request-id is a UUID; accept any short printable token and make one up otherwise.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"


def _route_template(scope: Scope, routes: list[BaseRoute]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Refused before routing (authentication, body checks): find the template ourselves.
    for candidate in routes:
        if not hasattr(candidate, "path_regex"):
            continue  # an included router: its routes are in the list too
        match, _ = candidate.matches(scope)
        if match is not Match.NONE:
            candidate_path = getattr(candidate, "path", None)
            if isinstance(candidate_path, str):
                return candidate_path
    return UNMATCHED_ROUTE


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = Headers(scope=scope).get("x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            with log_fields(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
            route = _route_template(scope, self._routes)
            metrics.ADMIN_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.ADMIN_REQUEST_DURATION.labels(method=method, route=route).observe(duration)
            log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_seconds": round(duration, 6),
                    "request_id": request_id,
                },
            )
