"""Route endpoints: /api/v1/routes."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from controlplane.api.context import Admin
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.pagination import PageParams, page_params
from controlplane.api.paths import API_PREFIX, NamePath, resource_path
from controlplane.api.routes import service
from controlplane.api.routes.schemas import RoutePage, RouteResource
from controlplane.model import RouteSpec

router = APIRouter(prefix=f"{API_PREFIX}/routes", tags=["routes"])


@router.post(
    "",
    status_code=201,
    summary="Create a route",
    description="The listener and every service the route names must exist (else 422).",
    responses=responses(409),
)
def create_route(spec: RouteSpec, admin: Admin, response: Response) -> RouteResource:
    resource = service.create(admin, spec)
    response.headers["Location"] = resource_path("routes", resource.name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.get("", summary="List routes, in match order (`order`, then name)")
def list_routes(admin: Admin, params: Annotated[PageParams, Depends(page_params)]) -> RoutePage:
    return service.list_page(admin, params)


@router.get("/{name}", summary="Read a route", responses=responses(404))
def get_route(name: NamePath, admin: Admin, response: Response) -> RouteResource:
    resource = service.get(admin, name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.put(
    "/{name}",
    summary="Replace a route",
    description="Needs If-Match with the current ETag. The body is the whole new spec; its "
    "`name` must equal the path's. Replacing a spec with an identical one changes nothing.",
    responses=responses(404, 409, 412, 428),
)
def replace_route(
    name: NamePath,
    spec: RouteSpec,
    admin: Admin,
    response: Response,
    if_match: IfMatchHeader = None,
) -> RouteResource:
    resource = service.replace(admin, name, spec, if_match)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a route",
    description="If-Match is optional and honoured.",
    responses=responses(404, 409, 412),
)
def delete_route(name: NamePath, admin: Admin, if_match: IfMatchHeader = None) -> Response:
    service.delete(admin, name, if_match)
    return Response(status_code=204)
