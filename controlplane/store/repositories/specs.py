"""SQL shared by every resource table: reading stored specs in bulk, as the xDS side does."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.store.tables import Resource, spec_text


def texts(session: Session, table: type[Resource], *, since: int = -1) -> list[tuple[int, str]]:
    """(id, spec JSON text) of every row written after store revision `since`."""
    query = select(table.id, spec_text(table))
    if since >= 0:
        query = query.where(table.store_revision > since)
    return [(row_id, text) for row_id, text in session.execute(query)]


def count(session: Session, table: type[Resource]) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


def ids(session: Session, table: type[Resource]) -> list[int]:
    return list(session.execute(select(table.id)).scalars())
