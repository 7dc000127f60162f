"""SQL shared by every resource table: writing a spec at a new store revision, and reading
stored specs in bulk, as the xDS side does."""

from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.store.repositories import revision
from controlplane.store.tables import Resource, spec_text, utcnow

RowT = TypeVar("RowT", bound=Resource)


class NamedSpec(Protocol):
    @property
    def name(self) -> str: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


def insert(session: Session, table: type[RowT], spec: NamedSpec) -> RowT:
    """A new row holding `spec`."""
    row = table()
    row.name = spec.name
    row.spec = spec.model_dump(mode="json")
    row.store_revision = revision.bump(session)
    row.created_at = row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def rewrite(session: Session, row: RowT, spec: NamedSpec) -> RowT:
    """`row` now holds `spec`."""
    row.store_revision = revision.bump(session)
    row.spec = spec.model_dump(mode="json")
    row.updated_at = utcnow()
    session.flush()
    return row


def remove(session: Session, row: Resource) -> None:
    revision.bump(session)
    session.delete(row)
    session.flush()


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
