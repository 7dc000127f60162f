"""Bearer-token authentication of the admin API.

Enforced by a middleware, before anything reads the request body, for every path except the
public operational ones; so a new endpoint is protected without anyone remembering to.
"""

import hmac

from fastapi.security import HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from controlplane.api.errors import error_response

# Liveness and readiness probes, Prometheus and the API docs need no token.
PUBLIC_PATHS = frozenset(
    {"/livez", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)

# Only declares the scheme in OpenAPI; AdminAuthMiddleware does the checking.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <CHAOSGW_ADMIN_TOKEN>` (not needed in development mode "
    "when no token is set).",
)


def _presented_token(authorization: str | None) -> bytes | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


class AdminAuthMiddleware:
    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        # None: development mode without a token, everything is open.
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._token is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in PUBLIC_PATHS
        ):
            await self.app(scope, receive, send)
            return
        presented = _presented_token(Headers(scope=scope).get("authorization"))
        if presented is not None and hmac.compare_digest(presented, self._token):
            await self.app(scope, receive, send)
            return
        if presented is None:
            message = "this API needs an 'Authorization: Bearer <admin token>' header"
            challenge = 'Bearer realm="chaosgw-admin"'
        else:
            message = "the bearer token is not valid"
            challenge = 'Bearer realm="chaosgw-admin", error="invalid_token"'
        response = error_response(
            401, "unauthorized", message, headers={"WWW-Authenticate": challenge}
        )
        await response(scope, receive, send)
