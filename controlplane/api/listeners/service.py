"""Listener rules: unique names, one listener per address, port and node group, the
certificates it presents exist, and no deleting a listener routes are still attached to."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict, ErrorDetail, InvalidReference
from controlplane.api.listeners.schemas import ListenerPage, ListenerResource
from controlplane.api.paths import resource_path
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.model import ListenerSpec
from controlplane.store.repositories import certificates, listeners
from controlplane.store.tables import Listener


def _add(session: Session, spec: ListenerSpec) -> Listener:
    _check_binding_free(session, spec, None)
    _check_certificates_exist(session, spec)
    return listeners.add(session, spec)


def _replace(session: Session, row: Listener, spec: ListenerSpec) -> Listener:
    _check_binding_free(session, spec, row)
    _check_certificates_exist(session, spec)
    return listeners.replace(session, row, spec)


def _check_certificates_exist(session: Session, spec: ListenerSpec) -> None:
    if spec.tls is None:
        return
    known = certificates.names(session)
    missing = [
        ErrorDetail(
            field=f"tls.certificates[{index}]",
            location="body",
            message=f"no certificate named {name!r}",
            type="unknown_certificate",
        )
        for index, name in enumerate(spec.tls.certificates)
        if name not in known
    ]
    if missing:
        raise InvalidReference(
            f"listener {spec.name!r} presents certificates that do not exist: "
            + "; ".join(detail.message for detail in missing),
            details=missing,
        )


def _check_no_routes(session: Session, row: Listener) -> None:
    attached = listeners.route_names(session, row, limit=NAMED_LIMIT + 1)
    if attached:
        raise Conflict(
            f"listener {row.name!r} still has routes: {quoted(attached)}; delete them or move "
            "them to another listener first",
            details=in_the_way("routes", attached, "route {name!r} is attached to this listener"),
        )


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


resources = ResourceService(
    ResourceKind("listener", "listeners", ListenerSpec, ListenerResource, ListenerPage),
    listeners,
    add=_add,
    replace=_replace,
    check_deletable=_check_no_routes,
)
