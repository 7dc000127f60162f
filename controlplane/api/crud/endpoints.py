"""The five endpoints of a named resource kind, under /api/v1/<kind>:

POST "" (create), GET "" (list a page), GET /{name}, PUT /{name} (replace, If-Match needed),
DELETE /{name} (If-Match honoured). Operation ids are `create_listener`, `list_listeners`, ...
"""

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Response

from controlplane.api.context import Admin
from controlplane.api.crud.service import PageT, ResourceService, ResourceT, SpecT
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.pagination import PageParams, page_params
from controlplane.api.paths import API_PREFIX, NamePath, resource_path

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def crud_router(
    service: ResourceService[SpecT, Any, ResourceT, PageT],
    *,
    list_order: str = "by name",
    create_rule: str | None = None,
    delete_rule: str | None = None,
) -> APIRouter:
    """The kind's router. `list_order` ends the list summary ("List routes, in match order");
    `create_rule` and `delete_rule` describe what the kind refuses on create and delete."""
    kind = service.kind
    operation = _identifier(kind.singular)
    router = APIRouter(prefix=f"{API_PREFIX}/{kind.plural}", tags=[kind.plural])

    # No docstrings below: FastAPI would publish them as operation descriptions.
    def create(spec: SpecT, admin: Admin, response: Response) -> ResourceT:
        resource = service.create(admin, spec)
        response.headers["Location"] = resource_path(kind.plural, spec.name)
        response.headers["ETag"] = resource.metadata.etag
        return resource

    def list_page(admin: Admin, params: Annotated[PageParams, Depends(page_params)]) -> PageT:
        return service.list_page(admin, params)

    def get(name: NamePath, admin: Admin, response: Response) -> ResourceT:
        resource = service.get(admin, name)
        response.headers["ETag"] = resource.metadata.etag
        return resource

    def replace(
        name: NamePath,
        spec: SpecT,
        admin: Admin,
        response: Response,
        if_match: IfMatchHeader = None,
    ) -> ResourceT:
        resource = service.replace(admin, name, spec, if_match)
        response.headers["ETag"] = resource.metadata.etag
        return resource

    def delete(name: NamePath, admin: Admin, if_match: IfMatchHeader = None) -> Response:
        service.delete(admin, name, if_match)
        return Response(status_code=204)

    router.add_api_route(
        "",
        _typed(create, {"spec": kind.spec, "return": kind.resource}),
        methods=["POST"],
        name=f"create_{operation}",
        status_code=201,
        summary=f"Create {kind.one}",
        description=create_rule,
        responses=responses(409),
    )
    router.add_api_route(
        "",
        _typed(list_page, {"return": kind.page}),
        methods=["GET"],
        name=f"list_{_identifier(kind.plural)}",
        summary=f"List {kind.plural}, {list_order}",
    )
    router.add_api_route(
        "/{name}",
        _typed(get, {"return": kind.resource}),
        methods=["GET"],
        name=f"get_{operation}",
        summary=f"Read {kind.one}",
        responses=responses(404),
    )
    router.add_api_route(
        "/{name}",
        _typed(replace, {"spec": kind.spec, "return": kind.resource}),
        methods=["PUT"],
        name=f"replace_{operation}",
        summary=f"Replace {kind.one}",
        description="Needs If-Match with the current ETag. The body is the whole new spec; its "
        "`name` must equal the path's. Replacing a spec with an identical one changes nothing.",
        responses=responses(404, 409, 412, 428),
    )
    router.add_api_route(
        "/{name}",
        delete,
        methods=["DELETE"],
        name=f"delete_{operation}",
        status_code=204,
        summary=f"Delete {kind.one}",
        description=" ".join(filter(None, (delete_rule, "If-Match is optional and honoured."))),
        responses=responses(404, 409, 412),
    )
    return router


def _identifier(words: str) -> str:
    """For operation ids: `rate-limit policy` -> `rate_limit_policy`."""
    return re.sub(r"[^a-z0-9]+", "_", words.lower())


def _typed(endpoint: Endpoint, types: dict[str, type[Any]]) -> Endpoint:
    """`endpoint` with the kind's own types in place of type variables: FastAPI reads the
    request body and response models from its annotations."""
    endpoint.__annotations__.update(types)
    return endpoint
