"""The route's `auth`: the providers, roles and introspectors it names must exist, and what
the gateway cannot check is refused, never served unprotected."""

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from controlplane.api.errors import ApiError, ErrorDetail
from controlplane.model import AuthenticatedAuth, RouteSpec
from controlplane.model.auth_route import (
    SERVICE_CREDENTIALS,
    IntrospectionCredential,
    JwtCredential,
)
from controlplane.store.repositories.auth import jwt_providers, oauth2_introspectors, roles
from controlplane.store.tables import JwtProvider, OAuth2Introspector, Role, Route


class NotAvailable(ApiError):
    status, code = 422, "not_available"


def check_available(spec: RouteSpec, auth_service: bool) -> None:
    """422 when the route needs what the gateway cannot check: a credential kind or an owner
    rule that only the auth service checks, and no auth service is configured."""
    auth = spec.auth
    if not isinstance(auth, AuthenticatedAuth):
        return
    details = []
    for index, credential in enumerate(auth.credentials):
        field = f"auth.credentials[{index}].kind"
        if credential.kind in SERVICE_CREDENTIALS and not auth_service:
            message = (
                f"{credential.kind!r} credentials need the auth service, and none is configured "
                "(CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)"
            )
        else:
            continue
        details.append(
            ErrorDetail(field=field, location="body", message=message, type="not_available")
        )
    if auth.owner is not None and not auth_service:
        message = (
            "an owner rule is checked by the auth service, and none is configured "
            "(CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)"
        )
        details.append(
            ErrorDetail(field="auth.owner", location="body", message=message, type="not_available")
        )
    if details:
        raise NotAvailable(
            f"route {spec.name!r} needs credentials the gateway cannot check: "
            + "; ".join(detail.message for detail in details),
            details=details,
        )


@dataclass(frozen=True)
class AuthRows:
    """The stored rows a route's auth names, linked to the route so that none of them can be
    deleted while it does."""

    providers: list[JwtProvider] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    introspectors: list[OAuth2Introspector] = field(default_factory=list)


def auth_references(session: Session, spec: RouteSpec) -> tuple[list[ErrorDetail], AuthRows]:
    """What is missing among the providers, roles and introspectors the route names, and the
    rows found."""
    auth = spec.auth
    if not isinstance(auth, AuthenticatedAuth):
        return [], AuthRows()
    providers = jwt_providers.get_many(session, auth.jwt_providers())
    unless_roles = auth.owner.unless_roles if auth.owner is not None else []
    found_roles = roles.get_many(session, {*auth.roles_any_of, *unless_roles})
    introspectors = oauth2_introspectors.get_many(session, auth.introspectors())
    missing: list[ErrorDetail] = []
    for index, credential in enumerate(auth.credentials):
        field = f"auth.credentials[{index}]"
        if isinstance(credential, IntrospectionCredential):
            missing += _unknown(
                credential.introspectors,
                introspectors,
                f"{field}.introspectors",
                "OAuth 2.0 introspector",
                "unknown_oauth2_introspector",
            )
        if isinstance(credential, JwtCredential):
            missing += _unknown(
                credential.providers,
                providers,
                f"{field}.providers",
                "JWT provider",
                "unknown_jwt_provider",
            )
    missing += _unknown(auth.roles_any_of, found_roles, "auth.roles_any_of", "role", "unknown_role")
    missing += _unknown(
        unless_roles, found_roles, "auth.owner.unless_roles", "role", "unknown_role"
    )
    rows = AuthRows(
        list(providers.values()), list(found_roles.values()), list(introspectors.values())
    )
    return missing, rows


def _unknown(
    names: Iterable[str], found: Container[str], field: str, what: str, kind: str
) -> list[ErrorDetail]:
    return [
        ErrorDetail(
            field=f"{field}[{index}]",
            location="body",
            message=f"no {what} named {name!r}",
            type=kind,
        )
        for index, name in enumerate(names)
        if name not in found
    ]


def link(session: Session, row: Route, rows: AuthRows) -> None:
    """Record what the stored route's auth names, so that none of it can be deleted."""
    jwt_providers.link(session, row, rows.providers)
    roles.link(session, row, rows.roles)
    oauth2_introspectors.link(session, row, rows.introspectors)
