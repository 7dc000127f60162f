"""The route's `auth`: the providers and roles it names must exist, and what only the auth
service could check is refused until that service exists, never served unprotected."""

from sqlalchemy.orm import Session

from controlplane.api.errors import ApiError, ErrorDetail
from controlplane.model import AuthenticatedAuth, RouteSpec
from controlplane.model.auth_route import NATIVE_CREDENTIALS, JwtCredential
from controlplane.store.repositories.auth import jwt_providers, roles
from controlplane.store.tables import JwtProvider, Role, Route


class NotAvailable(ApiError):
    status, code = 422, "not_available"


def check_native(spec: RouteSpec) -> None:
    """422 when the route needs a credential kind Envoy cannot check by itself."""
    auth = spec.auth
    if not isinstance(auth, AuthenticatedAuth):
        return
    details = [
        ErrorDetail(
            field=f"auth.credentials[{index}].kind",
            location="body",
            message=f"{credential.kind!r} credentials need the auth service, which is not "
            "available yet; only 'jwt' can be required for now",
            type="not_available",
        )
        for index, credential in enumerate(auth.credentials)
        if credential.kind not in NATIVE_CREDENTIALS
    ]
    if details:
        raise NotAvailable(
            f"route {spec.name!r} needs credentials the gateway cannot check yet: "
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
    found_roles = roles.get_many(session, auth.roles_any_of)
    missing: list[ErrorDetail] = []
    for index, credential in enumerate(auth.credentials):
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
    return missing, list(providers.values()), list(found_roles.values())


def link(session: Session, row: Route, providers: list[JwtProvider], names: list[Role]) -> None:
    """Record what the stored route's auth names, so that none of it can be deleted."""
    jwt_providers.link(session, row, providers)
    roles.link(session, row, names)
