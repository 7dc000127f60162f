"""The route's `auth`: the providers and roles it names must exist, and what the gateway
cannot check is refused, never served unprotected."""

from sqlalchemy.orm import Session

from controlplane.api.errors import ApiError, ErrorDetail
from controlplane.model import AuthenticatedAuth, RouteSpec
from controlplane.model.auth_route import (
    SERVICE_CREDENTIALS,
    IntrospectionCredential,
    JwtCredential,
)
from controlplane.store.repositories.auth import jwt_providers, oauth2_introspectors, roles
from controlplane.store.tables import JwtProvider, Role, Route


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


def auth_references(
    session: Session, spec: RouteSpec
) -> tuple[list[ErrorDetail], list[JwtProvider], list[Role]]:
    """What is missing among the providers and roles the route names, and the rows found."""
    auth = spec.auth
    if not isinstance(auth, AuthenticatedAuth):
        return [], [], []
    providers = jwt_providers.get_many(session, auth.jwt_providers())
    unless_roles = auth.owner.unless_roles if auth.owner is not None else []
    found_roles = roles.get_many(session, {*auth.roles_any_of, *unless_roles})
    introspectors = oauth2_introspectors.get_many(session, auth.introspectors())
    missing: list[ErrorDetail] = []
    for index, credential in enumerate(auth.credentials):
        if isinstance(credential, IntrospectionCredential):
            missing.extend(
                ErrorDetail(
                    field=f"auth.credentials[{index}].introspectors[{position}]",
                    location="body",
                    message=f"no OAuth 2.0 introspector named {name!r}",
                    type="unknown_oauth2_introspector",
                )
                for position, name in enumerate(credential.introspectors)
                if name not in introspectors
            )
        if isinstance(credential, JwtCredential):
            missing.extend(
                ErrorDetail(
                    field=f"auth.credentials[{index}].providers[{position}]",
                    location="body",
                    message=f"no JWT provider named {name!r}",
                    type="unknown_jwt_provider",
                )
                for position, name in enumerate(credential.providers)
                if name not in providers
            )
    missing.extend(
        ErrorDetail(
            field=f"auth.roles_any_of[{index}]",
            location="body",
            message=f"no role named {name!r}",
            type="unknown_role",
        )
        for index, name in enumerate(auth.roles_any_of)
        if name not in found_roles
    )
    missing.extend(
        ErrorDetail(
            field=f"auth.owner.unless_roles[{index}]",
            location="body",
            message=f"no role named {name!r}",
            type="unknown_role",
        )
        for index, name in enumerate(unless_roles)
        if name not in found_roles
    )
    return missing, list(providers.values()), list(found_roles.values())


def link(session: Session, row: Route, providers: list[JwtProvider], names: list[Role]) -> None:
    """Record what the stored route's auth names, so that none of it can be deleted."""
    jwt_providers.link(session, row, providers)
    roles.link(session, row, names)


def link_introspectors(session: Session, row: Route, spec: RouteSpec) -> None:
    """Record the introspectors the stored route names (checked by `auth_references`)."""
    names = spec.auth.introspectors() if isinstance(spec.auth, AuthenticatedAuth) else []
    oauth2_introspectors.link(
        session, row, list(oauth2_introspectors.get_many(session, names).values())
    )
