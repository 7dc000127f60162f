"""Service endpoints: /api/v1/services."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from controlplane.api.context import Admin
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.pagination import PageParams, page_params
from controlplane.api.paths import API_PREFIX, NamePath, resource_path
from controlplane.api.services import service
from controlplane.api.services.schemas import ServicePage, ServiceResource
from controlplane.model import ServiceSpec

router = APIRouter(prefix=f"{API_PREFIX}/services", tags=["services"])


@router.post(
    "",
    status_code=201,
    summary="Create a service",
    responses=responses(409),
)
def create_service(spec: ServiceSpec, admin: Admin, response: Response) -> ServiceResource:
    resource = service.create(admin, spec)
    response.headers["Location"] = resource_path("services", resource.name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.get("", summary="List services, by name")
def list_services(admin: Admin, params: Annotated[PageParams, Depends(page_params)]) -> ServicePage:
    return service.list_page(admin, params)


@router.get("/{name}", summary="Read a service", responses=responses(404))
def get_service(name: NamePath, admin: Admin, response: Response) -> ServiceResource:
    resource = service.get(admin, name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.put(
    "/{name}",
    summary="Replace a service",
    description="Needs If-Match with the current ETag. The body is the whole new spec; its "
    "`name` must equal the path's. Replacing a spec with an identical one changes nothing.",
    responses=responses(404, 409, 412, 428),
)
def replace_service(
    name: NamePath,
    spec: ServiceSpec,
    admin: Admin,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ServiceResource:
    resource = service.replace(admin, name, spec, if_match)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a service",
    description="Refused while routes send traffic to it. If-Match is optional and honoured.",
    responses=responses(404, 409, 412),
)
def delete_service(name: NamePath, admin: Admin, if_match: IfMatchHeader = None) -> Response:
    service.delete(admin, name, if_match)
    return Response(status_code=204)
