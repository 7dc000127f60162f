"""JWT provider endpoints: /api/v1/jwt-providers."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.jwt_providers import service

router = crud_router(
    service.resources,
    create_rule="A remote key set (`jwks.uri`, or OpenID Connect discovery) is fetched and "
    "checked first: 422 if it cannot be used.",
    delete_rule="Refused while routes accept its tokens.",
)
