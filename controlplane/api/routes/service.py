"""Route rules: unique names, and the listener and every service a route names must exist."""

from sqlalchemy.orm import Session

from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict, ErrorDetail, InvalidReference, NotFound
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.pagination import PageParams
from controlplane.api.paths import resource_path
from controlplane.api.resource_names import check_path_name
from controlplane.api.routes.schemas import RoutePage, RouteResource
from controlplane.model import RouteSpec
from controlplane.store.repositories import listeners, routes, services
from controlplane.store.tables import Listener, Route, Service


def create(admin: AdminContext, spec: RouteSpec) -> RouteResource:
    with admin.write() as session:
        if routes.get(session, spec.name) is not None:
            raise Conflict(
                f"a route named {spec.name!r} already exists; PUT "
                f"{resource_path('routes', spec.name)} to change it",
                details=[ErrorDetail(field="name", location="body", message="already taken")],
            )
        listener, targets = _references(session, spec)
        return RouteResource.of(routes.add(session, spec, listener, targets))


def get(admin: AdminContext, name: str) -> RouteResource:
    with admin.read() as session:
        return RouteResource.of(_existing(session, name))


def list_page(admin: AdminContext, params: PageParams) -> RoutePage:
    with admin.read() as session:
        rows = routes.page(session, limit=params.limit, offset=params.offset)
        return RoutePage.of([RouteResource.of(row) for row in rows], routes.count(session), params)


def replace(admin: AdminContext, name: str, spec: RouteSpec, if_match: str | None) -> RouteResource:
    check_path_name("route", name, spec.name)
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=True)
        if row.spec == spec.model_dump(mode="json"):
            return RouteResource.of(row)  # nothing to change, nothing to push
        listener, targets = _references(session, spec)
        return RouteResource.of(routes.replace(session, row, spec, listener, targets))


def delete(admin: AdminContext, name: str, if_match: str | None) -> None:
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=False)
        routes.delete(session, row)


def _existing(session: Session, name: str) -> Route:
    row = routes.get(session, name)
    if row is None:
        raise NotFound(f"no route named {name!r}")
    return row


def _references(session: Session, spec: RouteSpec) -> tuple[Listener, list[Service]]:
    """The listener and services the route names; 422 listing every one that is missing."""
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
    for index, backend in enumerate(spec.action.backends):
        if backend.service not in found:
            missing.append(
                ErrorDetail(
                    field=f"action.backends[{index}].service",
                    location="body",
                    message=f"no service named {backend.service!r}",
                    type="unknown_service",
                )
            )
    if listener is None or missing:
        raise InvalidReference(
            f"route {spec.name!r} refers to what does not exist: "
            + "; ".join(detail.message for detail in missing),
            details=missing,
        )
    return listener, [found[name] for name in sorted(found)]
