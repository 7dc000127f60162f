"""SQL for rate-limit policies and the policy -> route references derived from them."""

from collections.abc import Iterable, Sequence

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from controlplane.model import RateLimitPolicySpec
from controlplane.store.repositories import specs
from controlplane.store.tables import RateLimitPolicy, Route, policy_route_refs


def get(session: Session, name: str) -> RateLimitPolicy | None:
    return session.execute(
        select(RateLimitPolicy).where(RateLimitPolicy.name == name)
    ).scalar_one_or_none()


def page(session: Session, *, limit: int, offset: int) -> Sequence[RateLimitPolicy]:
    return (
        session.execute(
            select(RateLimitPolicy).order_by(RateLimitPolicy.name).limit(limit).offset(offset)
        )
        .scalars()
        .all()
    )


def count(session: Session) -> int:
    return specs.count(session, RateLimitPolicy)


def add(session: Session, spec: RateLimitPolicySpec, routes: Iterable[Route]) -> RateLimitPolicy:
    """Store a policy; `routes` are the rows its spec names."""
    row = specs.insert(session, RateLimitPolicy, spec)
    _insert_refs(session, row, routes)
    return row


def replace(
    session: Session, row: RateLimitPolicy, spec: RateLimitPolicySpec, routes: Iterable[Route]
) -> RateLimitPolicy:
    specs.rewrite(session, row, spec)
    session.execute(sql_delete(policy_route_refs).where(policy_route_refs.c.policy_id == row.id))
    _insert_refs(session, row, routes)
    return row


def delete(session: Session, row: RateLimitPolicy) -> None:
    # Its references go with it: ON DELETE CASCADE.
    specs.remove(session, row)


def _insert_refs(session: Session, row: RateLimitPolicy, routes: Iterable[Route]) -> None:
    refs = [{"policy_id": row.id, "route_id": route.id} for route in routes]
    if refs:
        session.execute(insert(policy_route_refs), refs)
