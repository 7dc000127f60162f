"""SQL for services."""

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.model import ServiceSpec
from controlplane.store.repositories import specs
from controlplane.store.tables import Listener, Route, Service, route_service_refs


def get(session: Session, name: str) -> Service | None:
    return session.execute(select(Service).where(Service.name == name)).scalar_one_or_none()


def get_many(session: Session, names: Collection[str]) -> dict[str, Service]:
    """The services among `names` that exist, by name."""
    if not names:
        return {}
    rows = session.execute(select(Service).where(Service.name.in_(names))).scalars()
    return {row.name: row for row in rows}


def page(session: Session, *, limit: int, offset: int) -> Sequence[Service]:
    return (
        session.execute(select(Service).order_by(Service.name).limit(limit).offset(offset))
        .scalars()
        .all()
    )


def count(session: Session) -> int:
    return specs.count(session, Service)


def referencing_route_names(session: Session, service: Service, *, limit: int) -> list[str]:
    """Names of (at most `limit`) routes that send traffic to the service, in name order."""
    return list(
        session.execute(
            select(Route.name)
            .join(route_service_refs, route_service_refs.c.route_id == Route.id)
            .where(route_service_refs.c.service_id == service.id)
            .order_by(Route.name)
            .limit(limit)
        ).scalars()
    )


def node_groups_using(session: Session, service: Service) -> list[str]:
    """The node groups whose listeners hold a route to the service, in name order."""
    return list(
        session.execute(
            select(Listener.node_group)
            .distinct()
            .join(Route, Route.listener_id == Listener.id)
            .join(route_service_refs, route_service_refs.c.route_id == Route.id)
            .where(route_service_refs.c.service_id == service.id)
            .order_by(Listener.node_group)
        ).scalars()
    )


def add(session: Session, spec: ServiceSpec) -> Service:
    return specs.insert(session, Service, spec)


def replace(session: Session, row: Service, spec: ServiceSpec) -> Service:
    return specs.rewrite(session, row, spec)


def delete(session: Session, row: Service) -> None:
    specs.remove(session, row)
