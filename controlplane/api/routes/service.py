"""Route rules: unique names, and the listener, every service and everything its auth names
must exist."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict, ErrorDetail, InvalidReference
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.api.routes.auth import AuthRows, auth_references, check_available, link
from controlplane.api.routes.schemas import RoutePage, RouteResource
from controlplane.api.routes.warnings import describe
from controlplane.model import RouteSpec
from controlplane.store.repositories import listeners, routes, services
from controlplane.store.tables import Listener, Route, Service


def _add(session: Session, spec: RouteSpec) -> Route:
    listener, targets, auth_rows = _references(session, spec)
    row = routes.add(session, spec, listener, targets)
    link(session, row, auth_rows)
    return row


def replace(session: Session, row: Route, spec: RouteSpec) -> Route:
    listener, targets, auth_rows = _references(session, spec)
    routes.replace(session, row, spec, listener, targets)
    link(session, row, auth_rows)
    return row


def _references(session: Session, spec: RouteSpec) -> tuple[Listener, list[Service], AuthRows]:
    """The rows the route names; 422 listing every one that is missing."""
    missing: list[ErrorDetail] = []
    listener = listeners.get(session, spec.listener)
    if listener is None:
        missing.append(
            ErrorDetail(
                field="listener",
                location="body",
                message=f"no listener named {spec.listener!r}",
                type="unknown_listener",
            )
        )
    found = services.get_many(session, spec.services())
    for field, service in spec.action.service_fields():
        if service not in found:
            missing.append(
                ErrorDetail(
                    field=f"action.{field}",
                    location="body",
                    message=f"no service named {service!r}",
                    type="unknown_service",
                )
            )
    auth_missing, auth_rows = auth_references(session, spec)
    missing.extend(auth_missing)
    if listener is None or missing:
        raise InvalidReference(
            f"route {spec.name!r} refers to what does not exist: "
            + "; ".join(detail.message for detail in missing),
            details=missing,
        )
    return listener, [found[name] for name in sorted(found)], auth_rows


def _check_unnamed(session: Session, row: Route) -> None:
    users = routes.referencing_policy_names(session, row, limit=NAMED_LIMIT + 1)
    if users:
        raise Conflict(
            f"route {row.name!r} is still named by rate-limit policies {quoted(users)}; change "
            "or delete them first",
            details=in_the_way(
                "rate-limit-policies", users, "rate-limit policy {name!r} applies to this route"
            ),
        )


Routes = ResourceService[RouteSpec, Route, RouteResource, RoutePage]


def resources(*, auth_service: bool) -> Routes:
    """The routes' service; `auth_service`: whether an auth service (extauthz) is set up."""

    def add(session: Session, spec: RouteSpec) -> Route:
        check_available(spec, auth_service)
        return _add(session, spec)

    def checked_replace(session: Session, row: Route, spec: RouteSpec) -> Route:
        check_available(spec, auth_service)
        return replace(session, row, spec)

    return ResourceService(
        ResourceKind("route", "routes", RouteSpec, RouteResource, RoutePage),
        routes,
        add=add,
        replace=checked_replace,
        describe=describe,
        check_deletable=_check_unnamed,
    )
