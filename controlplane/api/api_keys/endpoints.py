"""API key endpoints: /api/v1/api-keys. No PUT: a key's terms are part of what its holder was
given; to change them, create a new key and revoke the old one."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from controlplane.api.api_keys.schemas import ApiKeyPage, ApiKeyResource, CreatedApiKey
from controlplane.api.api_keys.service import PLURAL, ApiKeys, location
from controlplane.api.context import Admin
from controlplane.api.errors import responses
from controlplane.api.etag import IfMatchHeader
from controlplane.api.pagination import PageParams, page_params
from controlplane.api.paths import API_PREFIX, NamePath
from controlplane.model import ApiKeySpec


def router(keys: ApiKeys) -> APIRouter:
    api = APIRouter(prefix=f"{API_PREFIX}/{PLURAL}", tags=[PLURAL])

    @api.post(
        "",
        status_code=201,
        summary="Create an API key",
        description="Answers the key itself, this once: only its keyed hash is stored. Needs "
        "CHAOSGW_API_KEY_SECRET (else 422).",
        responses=responses(409),
    )
    def create_api_key(spec: ApiKeySpec, admin: Admin, response: Response) -> CreatedApiKey:
        created = keys.create(admin, spec)
        response.headers["Location"] = location(spec.name)
        response.headers["ETag"] = created.metadata.etag
        return created

    @api.get("", summary="List API keys, by name (never the keys)")
    def list_api_keys(
        admin: Admin, params: Annotated[PageParams, Depends(page_params)]
    ) -> ApiKeyPage:
        return keys.list_page(admin, params)

    @api.get("/{name}", summary="Read an API key (never the key)", responses=responses(404))
    def get_api_key(name: NamePath, admin: Admin, response: Response) -> ApiKeyResource:
        resource = keys.get(admin, name)
        response.headers["ETag"] = resource.metadata.etag
        return resource

    @api.delete(
        "/{name}",
        status_code=204,
        summary="Revoke an API key",
        description="Every Envoy refuses it within about a second. If-Match is optional and "
        "honoured.",
        responses=responses(404, 412),
    )
    def delete_api_key(name: NamePath, admin: Admin, if_match: IfMatchHeader = None) -> Response:
        keys.revoke(admin, name, if_match)
        return Response(status_code=204)

    return api
