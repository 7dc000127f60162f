"""Listener endpoints: /api/v1/listeners."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from controlplane.api.context import Admin
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.listeners import service
from controlplane.api.listeners.schemas import ListenerPage, ListenerResource
from controlplane.api.pagination import PageParams, page_params
from controlplane.api.paths import API_PREFIX, NamePath, resource_path
from controlplane.model import ListenerSpec

router = APIRouter(prefix=f"{API_PREFIX}/listeners", tags=["listeners"])


@router.post(
    "",
    status_code=201,
    summary="Create a listener",
    responses=responses(409),
)
def create_listener(spec: ListenerSpec, admin: Admin, response: Response) -> ListenerResource:
    resource = service.create(admin, spec)
    response.headers["Location"] = resource_path("listeners", resource.name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.get("", summary="List listeners, by name")
def list_listeners(
    admin: Admin, params: Annotated[PageParams, Depends(page_params)]
) -> ListenerPage:
    return service.list_page(admin, params)


@router.get("/{name}", summary="Read a listener", responses=responses(404))
def get_listener(name: NamePath, admin: Admin, response: Response) -> ListenerResource:
    resource = service.get(admin, name)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.put(
    "/{name}",
    summary="Replace a listener",
    description="Needs If-Match with the current ETag. The body is the whole new spec; its "
    "`name` must equal the path's. Replacing a spec with an identical one changes nothing.",
    responses=responses(404, 409, 412, 428),
)
def replace_listener(
    name: NamePath,
    spec: ListenerSpec,
    admin: Admin,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ListenerResource:
    resource = service.replace(admin, name, spec, if_match)
    response.headers["ETag"] = resource.metadata.etag
    return resource


@router.delete(
    "/{name}",
    status_code=204,
    summary="Delete a listener",
    description="Refused while routes are attached to it. If-Match is optional and honoured.",
    responses=responses(404, 409, 412),
)
def delete_listener(name: NamePath, admin: Admin, if_match: IfMatchHeader = None) -> Response:
    service.delete(admin, name, if_match)
    return Response(status_code=204)
