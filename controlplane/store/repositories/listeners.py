"""SQL for listeners."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.model import ListenerSpec
from controlplane.store.repositories import revision, specs
from controlplane.store.tables import Listener, Route, utcnow


def get(session: Session, name: str) -> Listener | None:
    return session.execute(select(Listener).where(Listener.name == name)).scalar_one_or_none()


def page(session: Session, *, limit: int, offset: int) -> Sequence[Listener]:
    return (
        session.execute(select(Listener).order_by(Listener.name).limit(limit).offset(offset))
        .scalars()
        .all()
    )


def count(session: Session) -> int:
    return specs.count(session, Listener)


# Binding a wildcard address takes the port on every address of the host.
WILDCARD_ADDRESSES = ("0.0.0.0", "::")


def bound_to(
    session: Session, address: str, port: int, node_group: str, *, other_than: int | None = None
) -> Listener | None:
    """Another listener of the node group whose binding overlaps this address and port."""
    query = select(Listener).where(
        Listener.port == port, Listener.node_group == node_group, Listener.id != other_than
    )
    if address not in WILDCARD_ADDRESSES:
        query = query.where(Listener.address.in_((address, *WILDCARD_ADDRESSES)))
    return session.execute(query.order_by(Listener.name).limit(1)).scalar_one_or_none()


def route_names(session: Session, listener: Listener, *, limit: int) -> list[str]:
    """Names of (at most `limit`) routes attached to the listener, in name order."""
    return list(
        session.execute(
            select(Route.name)
            .where(Route.listener_id == listener.id)
            .order_by(Route.name)
            .limit(limit)
        ).scalars()
    )


def add(session: Session, spec: ListenerSpec) -> Listener:
    written = revision.bump(session)
    now = utcnow()
    row = Listener(name=spec.name, store_revision=written, created_at=now, updated_at=now)
    _assign(row, spec)
    session.add(row)
    session.flush()
    return row


def replace(session: Session, row: Listener, spec: ListenerSpec) -> Listener:
    row.store_revision = revision.bump(session)
    _assign(row, spec)
    row.updated_at = utcnow()
    session.flush()
    return row


def delete(session: Session, row: Listener) -> None:
    specs.remove(session, row)


def _assign(row: Listener, spec: ListenerSpec) -> None:
    row.spec = spec.model_dump(mode="json")
    row.address = spec.address
    row.port = spec.port
    row.node_group = spec.node_group
