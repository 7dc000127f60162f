"""JWT provider rules: unique names, a remote key set that can be fetched and used, and no
deleting a provider routes still accept tokens of."""

import httpx

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import ErrorDetail, Invalid
from controlplane.api.jwt_providers.schemas import JwtProviderPage, JwtProviderResource
from controlplane.api.resource_names import unused_by_routes
from controlplane.jwks.fetch import JwksUnavailable, fetch_jwks
from controlplane.model import JwtProviderSpec, RemoteJwks
from controlplane.store.repositories.auth import jwt_providers


def _check_keys_reachable(spec: JwtProviderSpec) -> None:
    """A remote key set must answer now: a typo in a URL is refused, not pushed to Envoy."""
    if not isinstance(spec.jwks, RemoteJwks):
        return
    try:
        with httpx.Client() as client:
            fetch_jwks(spec, client)
    except JwksUnavailable as error:
        raise Invalid(
            f"the keys of JWT provider {spec.name!r} cannot be used: {error}",
            details=[
                ErrorDetail(
                    field="jwks", location="body", message=str(error), type="jwks_unavailable"
                )
            ],
        ) from None


resources = ResourceService(
    ResourceKind(
        "JWT provider", "jwt-providers", JwtProviderSpec, JwtProviderResource, JwtProviderPage
    ),
    jwt_providers,
    add=jwt_providers.add,
    replace=jwt_providers.replace,
    check_deletable=unused_by_routes(
        jwt_providers,
        "JWT provider",
        "accepted by",
        "route {name!r} accepts tokens of this provider",
    ),
    check_outside=_check_keys_reachable,
)
