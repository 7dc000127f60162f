"""The route's `auth`: the providers and roles it names must exist, and what the gateway
cannot check is refused, never served unprotected."""

from sqlalchemy.orm import Session

from controlplane.api.errors import ApiError, ErrorDetail
from controlplane.model import AuthenticatedAuth, RouteSpec
from controlplane.model.auth_route import NOT_YET_CHECKED, SERVICE_CREDENTIALS, JwtCredential
from controlplane.store.repositories.auth import jwt_providers, roles
from controlplane.store.tables import JwtProvider, Role, Route


class NotAvailable(ApiError):
    status, code = 422, "not_available"


def check_available(spec: RouteSpec, auth_service: bool) -> None:
    """422 when the route needs what the gateway cannot check: a credential kind no part of it
    checks yet, API keys without an auth service, or API keys and JWTs on one route."""
    auth = spec.auth
    if not isinstance(auth, AuthenticatedAuth):
        return
    details = []
    for index, credential in enumerate(auth.credentials):
        field = f"auth.credentials[{index}].kind"
        if credential.kind in NOT_YET_CHECKED:
            message = (
                f"{credential.kind!r} credentials are not checked by the gateway yet; "
                "'jwt', 'api_key' and 'session' can be required"
            )
        elif credential.kind in SERVICE_CREDENTIALS and not auth_service:
            message = (
                f"{credential.kind!r} credentials need the auth service, and none is configured "
                "(CHAOSGW_EXTAUTHZ_ENDPOINTS is empty)"
            )
        elif credential.kind in SERVICE_CREDENTIALS and auth.jwt_providers():
            message = (
                f"{credential.kind!r} and 'jwt' credentials cannot be accepted by one route yet; "
                "declare one route per kind"
            )
        else:
            continue
        details.append(
            ErrorDetail(field=field, location="body", message=message, type="not_available")
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
