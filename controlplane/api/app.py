"""The admin API application."""

from importlib.metadata import PackageNotFoundError, version

from fastapi import Depends, FastAPI
from starlette.routing import BaseRoute

from controlplane.api import ops
from controlplane.api.access_log import AccessLogMiddleware
from controlplane.api.api_keys.endpoints import router as api_keys_router
from controlplane.api.api_keys.service import ApiKeys
from controlplane.api.certificates.endpoints import router as certificates_router
from controlplane.api.context import AdminContext, ConfigPublisher
from controlplane.api.errors import install_error_handlers, responses
from controlplane.api.jwt_providers.endpoints import router as jwt_providers_router
from controlplane.api.listeners.endpoints import router as listeners_router
from controlplane.api.nodes.endpoints import router as nodes_router
from controlplane.api.oauth2_introspectors.endpoints import router as introspectors_router
from controlplane.api.paths import API_PREFIX
from controlplane.api.ratelimits.endpoints import router as ratelimits_router
from controlplane.api.request_body import MAX_BODY_BYTES, JsonBodyMiddleware
from controlplane.api.roles.endpoints import router as roles_router
from controlplane.api.routes.endpoints import router as routes_router
from controlplane.api.security import AdminAuthMiddleware, bearer_scheme
from controlplane.api.services.endpoints import router as services_router
from controlplane.api.sessions.endpoints import router as sessions_router
from controlplane.settings import Settings
from controlplane.store import Database
from controlplane.xds.nodes import NodeRegistry
from sessionstore.layout import Keys
from sessionstore.store import Sessions, sync_client

__all__ = ["ConfigPublisher", "create_app"]

DESCRIPTION = f"""
Declare the gateway's listeners, services, routes and rate-limit policies; the control plane
compiles them into Envoy configuration and pushes it over xDS. `GET {API_PREFIX}/nodes` shows
what each connected Envoy accepted or rejected.

* **Authentication**: `Authorization: Bearer <CHAOSGW_ADMIN_TOKEN>` on every `{API_PREFIX}`
  request (development mode without a token: none).
* **Concurrency**: every resource has an ETag. `PUT` needs `If-Match` with the ETag you read
  (428 without it, 412 if someone changed the resource since); `If-Match: *` overwrites.
  `DELETE` honours `If-Match` when given.
* **Errors** are JSON: `{{"error": {{"code", "message", "details": [...]}}}}`. Bad input never
  changes anything. Bodies are JSON (`Content-Type: application/json`) of at most
  {MAX_BODY_BYTES // 1024} KiB.
"""

# How long an admin call waits for the sessions' Redis before answering 503.
SESSIONS_TIMEOUT_SECONDS = 1.0

TAGS = [
    {"name": "listeners", "description": "Where Envoy accepts client connections."},
    {"name": "services", "description": "Upstreams that routes send traffic to."},
    {
        "name": "routes",
        "description": "Which requests go where. A route names its listener and its services; "
        "both must exist.",
    },
    {
        "name": "certificates",
        "description": "TLS server certificates for listeners; private keys are write-only.",
    },
    {
        "name": "rate-limit-policies",
        "description": "What is counted, how much is admitted per window, and where: the whole "
        "gateway, some hosts or some routes. Global policies are decided by the rate-limit "
        "service, local ones by a token bucket in each Envoy.",
    },
    {
        "name": "jwt-providers",
        "description": "Issuers of the JWTs callers present, and their keys. Envoy verifies "
        "the tokens; the control plane fetches and refreshes remote key sets.",
    },
    {"name": "roles", "description": "Named sets of permissions that tokens grant."},
    {
        "name": "api-keys",
        "description": "Keys for services and partners: shown once, stored as a keyed hash, "
        "checked by the auth service, revoked by deletion.",
    },
    {
        "name": "sessions",
        "description": "Server-side sessions for players (login, logout, ban): the id shown "
        "once, held in Redis as a hash, checked by the auth service at every request.",
    },
    {"name": "nodes", "description": "Connected Envoys and their config status (read only)."},
    {"name": "ops", "description": "Liveness, readiness and metrics; no token needed."},
]


def _version() -> str:
    try:
        return version("chaos-gateway")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(
    settings: Settings,
    database: Database,
    publisher: ConfigPublisher,
    nodes: NodeRegistry,
    xds_started_at: float | None = None,
) -> FastAPI:
    token = settings.admin_token.get_secret_value()
    if not token and settings.mode != "development":
        # Settings refuses this already; a hand-built Settings must not open the API either.
        raise ValueError("the admin API needs CHAOSGW_ADMIN_TOKEN outside development mode")

    app = FastAPI(
        title="Chaos Gateway control plane",
        summary="Admin API of the Chaos Gateway: listeners, services, routes, rate-limit "
        "policies and nodes.",
        description=DESCRIPTION,
        version=_version(),
        openapi_tags=TAGS,
        # operationId = the endpoint function's name, e.g. `replace_route`.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.admin = AdminContext(database, publisher, nodes, xds_started_at)

    # Declares the scheme in OpenAPI; AdminAuthMiddleware enforces it.
    security = [Depends(bearer_scheme)] if token else []
    errors = responses(400, 401, 413, 415, 422) if token else responses(400, 413, 415, 422)
    policies_router = ratelimits_router(service_configured=bool(settings.ratelimit_endpoints))
    domains = (
        listeners_router,
        services_router,
        routes_router(auth_service=bool(settings.extauthz_endpoints)),
        certificates_router,
        policies_router,
        jwt_providers_router,
        roles_router,
        api_keys_router(ApiKeys(settings.api_key_secret.get_secret_value().encode())),
        introspectors_router,
        sessions_router(
            Sessions(
                sync_client(settings.sessions_redis_url, SESSIONS_TIMEOUT_SECONDS),
                Keys(settings.sessions_key_prefix),
            )
        ),
        nodes_router,
    )
    for router in domains:
        app.include_router(router, dependencies=security, responses=errors)
    app.include_router(ops.router)
    # Every route, for labelling requests refused before routing (401, 413, 415) and for 405s.
    templates: list[BaseRoute] = [
        route for router in (app.router, *domains, ops.router) for route in router.routes
    ]

    install_error_handlers(app, templates)

    # Outermost last: access log, then authentication, then the body checks.
    app.add_middleware(JsonBodyMiddleware, max_bytes=MAX_BODY_BYTES, prefix=API_PREFIX + "/")
    app.add_middleware(AdminAuthMiddleware, token=token or None)
    app.add_middleware(AccessLogMiddleware, routes=templates)
    return app
