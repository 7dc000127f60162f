"""SQL for JWT providers, roles and OAuth 2.0 introspectors, and for those each route's auth
names."""

from collections.abc import Collection, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from controlplane.model import JwtProviderSpec, OAuth2IntrospectorSpec, RoleSpec
from controlplane.store.repositories import specs
from controlplane.store.tables import (
    JwtProvider,
    OAuth2Introspector,
    Role,
    Route,
    route_introspector_refs,
    route_jwt_provider_refs,
    route_role_refs,
)

RowT = TypeVar("RowT", JwtProvider, Role, OAuth2Introspector)
AuthSpec = JwtProviderSpec | RoleSpec | OAuth2IntrospectorSpec


class _Named(Generic[RowT]):
    """The statements of a kind whose rows hold only a name and a spec."""

    def __init__(self, table: type[RowT], refs: Table, column: str) -> None:
        self._table: type[RowT] = table
        self._refs = refs
        self._ref_column = refs.c[column]

    def get(self, session: Session, name: str) -> RowT | None:
        table = self._table
        return session.execute(select(table).where(table.name == name)).scalar_one_or_none()

    def get_many(self, session: Session, names: Collection[str]) -> dict[str, RowT]:
        """The rows among `names` that exist, by name."""
        if not names:
            return {}
        table = self._table
        rows = session.execute(select(table).where(table.name.in_(names))).scalars()
        return {row.name: row for row in rows}

    def page(self, session: Session, *, limit: int, offset: int) -> Sequence[RowT]:
        table = self._table
        query = select(table).order_by(table.name).limit(limit).offset(offset)
        return session.execute(query).scalars().all()

    def count(self, session: Session) -> int:
        return specs.count(session, self._table)

    def add(self, session: Session, spec: AuthSpec) -> RowT:
        return specs.insert(session, self._table, spec)

    def replace(self, session: Session, row: RowT, spec: AuthSpec) -> RowT:
        return specs.rewrite(session, row, spec)

    def delete(self, session: Session, row: RowT) -> None:
        specs.remove(session, row)

    def route_names(self, session: Session, row: RowT, *, limit: int) -> list[str]:
        """Names of (at most `limit`) routes whose auth names this row, in name order."""
        return list(
            session.execute(
                select(Route.name)
                .join(self._refs, self._refs.c.route_id == Route.id)
                .where(self._ref_column == row.id)
                .order_by(Route.name)
                .limit(limit)
            ).scalars()
        )

    def link(self, session: Session, route: Route, rows: Collection[RowT]) -> None:
        """Make `rows` the ones the route names, replacing what it named before."""
        session.execute(sql_delete(self._refs).where(self._refs.c.route_id == route.id))
        refs: list[dict[str, Any]] = [
            {"route_id": route.id, self._ref_column.name: row.id} for row in rows
        ]
        if refs:
            session.execute(insert(self._refs), refs)


jwt_providers = _Named(JwtProvider, route_jwt_provider_refs, "jwt_provider_id")
roles = _Named(Role, route_role_refs, "role_id")
oauth2_introspectors = _Named(OAuth2Introspector, route_introspector_refs, "introspector_id")
