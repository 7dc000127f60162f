"""JWT provider rules: unique names, a remote key set that can be fetched and used, and no
deleting a provider routes still accept tokens of."""

import httpx
from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict, ErrorDetail, Invalid
from controlplane.api.jwt_providers.schemas import JwtProviderPage, JwtProviderResource
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.jwks.fetch import JwksUnavailable, fetch_jwks
from controlplane.model import JwtProviderSpec, RemoteJwks
from controlplane.store.repositories.auth import jwt_providers
from controlplane.store.tables import JwtProvider


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


def _check_unused(session: Session, row: JwtProvider) -> None:
    users = jwt_providers.route_names(session, row, limit=NAMED_LIMIT + 1)
    if users:
        raise Conflict(
            f"JWT provider {row.name!r} is still accepted by routes {quoted(users)}; change or "
            "delete them first",
            details=in_the_way("routes", users, "route {name!r} accepts tokens of this provider"),
        )


resources = ResourceService(
    ResourceKind(
        "JWT provider", "jwt-providers", JwtProviderSpec, JwtProviderResource, JwtProviderPage
    ),
    jwt_providers,
    add=jwt_providers.add,
    replace=jwt_providers.replace,
    check_deletable=_check_unused,
    check_outside=_check_keys_reachable,
)
