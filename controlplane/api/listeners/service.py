"""Listener rules: unique names, one listener per address, port and node group, and no
deleting a listener routes are still attached to."""

from sqlalchemy.orm import Session

from controlplane.api.context import AdminContext
from controlplane.api.errors import Conflict, ErrorDetail, NotFound
from controlplane.api.etag import check_if_match, etag_for
from controlplane.api.listeners.schemas import ListenerPage, ListenerResource
from controlplane.api.pagination import PageParams
from controlplane.api.paths import resource_path
from controlplane.api.resource_names import NAMED_LIMIT, check_path_name, quoted
from controlplane.model import ListenerSpec
from controlplane.store.repositories import listeners
from controlplane.store.tables import Listener


def create(admin: AdminContext, spec: ListenerSpec) -> ListenerResource:
    with admin.write() as session:
        if listeners.get(session, spec.name) is not None:
            raise Conflict(
                f"a listener named {spec.name!r} already exists; PUT "
                f"{resource_path('listeners', spec.name)} to change it",
                details=[ErrorDetail(field="name", location="body", message="already taken")],
            )
        _check_binding_free(session, spec, None)
        return ListenerResource.of(listeners.add(session, spec))


def get(admin: AdminContext, name: str) -> ListenerResource:
    with admin.read() as session:
        return ListenerResource.of(_existing(session, name))


def list_page(admin: AdminContext, params: PageParams) -> ListenerPage:
    with admin.read() as session:
        rows = listeners.page(session, limit=params.limit, offset=params.offset)
        return ListenerPage.of(
            [ListenerResource.of(row) for row in rows], listeners.count(session), params
        )


def replace(
    admin: AdminContext, name: str, spec: ListenerSpec, if_match: str | None
) -> ListenerResource:
    check_path_name("listener", name, spec.name)
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=True)
        if row.spec == spec.model_dump(mode="json"):
            return ListenerResource.of(row)  # nothing to change, nothing to push
        _check_binding_free(session, spec, row)
        return ListenerResource.of(listeners.replace(session, row, spec))


def delete(admin: AdminContext, name: str, if_match: str | None) -> None:
    with admin.write() as session:
        row = _existing(session, name)
        check_if_match(if_match, etag_for(row.id, row.version), required=False)
        attached = listeners.route_names(session, row, limit=NAMED_LIMIT + 1)
        if attached:
            raise Conflict(
                f"listener {name!r} still has routes: {quoted(attached)}; delete them or move "
                "them to another listener first",
                details=[
                    ErrorDetail(
                        resource=resource_path("routes", route),
                        message=f"route {route!r} is attached to this listener",
                    )
                    for route in attached[:NAMED_LIMIT]
                ],
            )
        listeners.delete(session, row)


def _existing(session: Session, name: str) -> Listener:
    row = listeners.get(session, name)
    if row is None:
        raise NotFound(f"no listener named {name!r}")
    return row


def _check_binding_free(session: Session, spec: ListenerSpec, itself: Listener | None) -> None:
    holder = listeners.bound_to(
        session,
        spec.address,
        spec.port,
        spec.node_group,
        other_than=None if itself is None else itself.id,
    )
    if holder is not None:
        raise Conflict(
            f"listener {holder.name!r} already binds {_socket(holder.address, spec.port)} in node "
            f"group {spec.node_group!r}, which overlaps {_socket(spec.address, spec.port)}",
            details=[
                ErrorDetail(
                    field="port",
                    location="body",
                    resource=resource_path("listeners", holder.name),
                    message="address, port and node group are taken",
                )
            ],
        )


def _socket(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
