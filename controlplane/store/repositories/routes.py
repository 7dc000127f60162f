"""SQL for routes and the route -> service references derived from them."""

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from controlplane.model import RouteSpec
from controlplane.store.repositories import revision, specs
from controlplane.store.tables import (
    Listener,
    RateLimitPolicy,
    Route,
    Service,
    policy_route_refs,
    route_service_refs,
    utcnow,
)


def get(session: Session, name: str) -> Route | None:
    return session.execute(select(Route).where(Route.name == name)).scalar_one_or_none()


def get_many(session: Session, names: Collection[str]) -> dict[str, Route]:
    """The routes among `names` that exist, by name."""
    if not names:
        return {}
    rows = session.execute(select(Route).where(Route.name.in_(names))).scalars()
    return {row.name: row for row in rows}


def page(session: Session, *, limit: int, offset: int) -> Sequence[Route]:
    return (
        session.execute(select(Route).order_by(Route.order, Route.name).limit(limit).offset(offset))
        .scalars()
        .all()
    )


def specs_on_listener(session: Session, listener_id: int) -> list[dict[str, Any]]:
    """The stored specs of every route of one listener."""
    return list(
        session.execute(select(Route.spec).where(Route.listener_id == listener_id)).scalars()
    )


def count(session: Session) -> int:
    return specs.count(session, Route)


def referencing_policy_names(session: Session, route: Route, *, limit: int) -> list[str]:
    """Names of (at most `limit`) rate-limit policies that name the route, in name order."""
    return list(
        session.execute(
            select(RateLimitPolicy.name)
            .join(policy_route_refs, policy_route_refs.c.policy_id == RateLimitPolicy.id)
            .where(policy_route_refs.c.route_id == route.id)
            .order_by(RateLimitPolicy.name)
            .limit(limit)
        ).scalars()
    )


def add(
    session: Session, spec: RouteSpec, listener: Listener, services: Iterable[Service]
) -> Route:
    """Store a route; `listener` and `services` are the rows its spec names."""
    written = revision.bump(session)
    now = utcnow()
    row = Route(name=spec.name, store_revision=written, created_at=now, updated_at=now)
    _assign(row, spec, listener)
    session.add(row)
    session.flush()
    _insert_refs(session, row, services)
    return row


def replace(
    session: Session,
    row: Route,
    spec: RouteSpec,
    listener: Listener,
    services: Iterable[Service],
) -> Route:
    row.store_revision = revision.bump(session)
    _assign(row, spec, listener)
    row.updated_at = utcnow()
    session.flush()
    session.execute(sql_delete(route_service_refs).where(route_service_refs.c.route_id == row.id))
    _insert_refs(session, row, services)
    return row


def delete(session: Session, row: Route) -> None:
    # Its references go with it: ON DELETE CASCADE.
    specs.remove(session, row)


def _assign(row: Route, spec: RouteSpec, listener: Listener) -> None:
    if listener.name != spec.listener:
        raise ValueError(
            f"route {spec.name!r} names listener {spec.listener!r}, not {listener.name!r}"
        )
    row.spec = spec.model_dump(mode="json")
    row.listener_id = listener.id
    row.order = spec.order


def _insert_refs(session: Session, row: Route, services: Iterable[Service]) -> None:
    refs = [{"route_id": row.id, "service_id": service.id} for service in services]
    if refs:
        session.execute(insert(route_service_refs), refs)
