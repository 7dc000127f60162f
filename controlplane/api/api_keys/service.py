"""API key rules: unique names; the key is made here from a secure random source, and only its
keyed hash is stored; a key is never changed, only revoked (deleted) and replaced by a new one."""

from sqlalchemy.orm import Session

from controlplane.api.api_keys.schemas import ApiKeyPage, ApiKeyResource, CreatedApiKey
from controlplane.api.context import AdminContext
from controlplane.api.errors import ApiError, Conflict, ErrorDetail, NotFound
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.pagination import PageParams
from controlplane.api.paths import resource_path
from controlplane.model import ApiKeySpec, StoredApiKey
from controlplane.model.auth_api_keys import key_hasher, new_key
from controlplane.store.repositories import api_keys
from controlplane.store.tables import ApiKey

PLURAL = "api-keys"


class NoSecret(ApiError):
    status, code = 422, "no_api_key_secret"


class ApiKeys:
    """`secret`: the HMAC key the keys are stored under (empty: none, in development)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._hash = key_hasher(secret)

    def create(self, admin: AdminContext, spec: ApiKeySpec) -> CreatedApiKey:
        if not self._secret:
            raise NoSecret(
                "API keys need CHAOSGW_API_KEY_SECRET, shared with the auth service; it is not set"
            )
        key = new_key()
        stored = StoredApiKey(**spec.model_dump(), key_hash=self._hash(key))
        with admin.write() as session:
            if api_keys.get(session, spec.name) is not None:
                raise Conflict(
                    f"an API key named {spec.name!r} already exists; delete it (revoke) "
                    "and create a new one to replace it",
                    details=[ErrorDetail(field="name", location="body", message="already taken")],
                )
            row = api_keys.add(session, stored)
            resource = ApiKeyResource.of(row)
        return CreatedApiKey(**resource.model_dump(), key=key)

    def get(self, admin: AdminContext, name: str) -> ApiKeyResource:
        with admin.read() as session:
            return ApiKeyResource.of(_existing(session, name))

    def list_page(self, admin: AdminContext, params: PageParams) -> ApiKeyPage:
        with admin.read() as session:
            rows = api_keys.page(session, limit=params.limit, offset=params.offset)
            return ApiKeyPage.of(
                [ApiKeyResource.of(row) for row in rows], api_keys.count(session), params
            )

    def revoke(self, admin: AdminContext, name: str, if_match: str | None) -> None:
        with admin.write() as session:
            row = _existing(session, name)
            check_if_match(if_match, etag_for(row.id, row.version), required=False)
            api_keys.delete(session, row)


def location(name: str) -> str:
    return resource_path(PLURAL, name)


def _existing(session: Session, name: str) -> ApiKey:
    row = api_keys.get(session, name)
    if row is None:
        raise NotFound(f"no API key named {name!r}")
    return row
