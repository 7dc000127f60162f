"""Route endpoints: /api/v1/routes, and /api/v1/routes/{name}/rollout."""

from fastapi import APIRouter, Response

from controlplane.api.context import Admin
from controlplane.api.crud.endpoints import crud_router
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.paths import NamePath
from controlplane.api.routes import service
from controlplane.api.routes.rollout import set_rollout
from controlplane.api.routes.schemas import RolloutShare, RouteResource


def router(*, auth_service: bool) -> APIRouter:
    """`auth_service`: whether an auth service (extauthz) checks what Envoy cannot."""
    resources = service.resources(auth_service=auth_service)
    routes = crud_router(
        resources,
        list_order="in match order (`order`, then name)",
        create_rule="The listener and every service the route names must exist (else 422). A "
        "route that an earlier route of its listener shadows (it could never match) is saved, "
        "and the answer lists it in `warnings`. A route requiring API keys needs the auth "
        "service (`CHAOSGW_EXTAUTHZ_ENDPOINTS`), else 422.",
        delete_rule="Refused while rate-limit policies name it.",
    )

    def _set_rollout(
        name: NamePath,
        share: RolloutShare,
        admin: Admin,
        response: Response,
        if_match: IfMatchHeader = None,
    ) -> RouteResource:
        resource = set_rollout(resources, admin, name, share, if_match)
        response.headers["ETag"] = resource.metadata.etag
        return resource

    routes.add_api_route(
        "/{name}/rollout",
        _set_rollout,
        methods=["PUT"],
        name="set_route_rollout",
        summary="Move a route's gradual rollout",
        description="Sets the share of requests the route's `action.rollout.service` receives. "
        "Envoy gets it over RTDS: the route configuration itself is not resent. 409 if the "
        "route declares no rollout. If-Match is optional and honoured.",
        responses=responses(404, 409, 412),
    )
    return routes
