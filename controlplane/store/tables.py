"""ORM tables of the store.

Each resource row keeps the full validated spec as JSON (the source of truth the API serves and
the translator reads) next to the few fields the database itself must police: unique names,
unique listener bindings, and the references routes and rate-limit policies hold, so that a
concurrent or buggy writer still cannot leave one pointing at a listener, service or route that
is gone.
"""

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    cast,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

# Stable constraint names: migrations (and SQLite batch mode) refer to constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_LENGTH = 63
REVISION_ROW_ID = 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# JSON, not PostgreSQL's JSONB: JSONB refuses "\u0000", which a valid spec may contain.
class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Resource:
    """Columns every admin resource has. `version` drives optimistic concurrency (ETags)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    spec: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer)
    # The store revision of the write that last changed the row: a reader that has seen
    # revision N catches up by reading only the rows written after N.
    store_revision: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # The ORM adds "AND version = <loaded>" to every UPDATE and DELETE and raises
        # StaleDataError when a concurrent writer got there first.
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Listener(Resource, Base):
    __tablename__ = "listeners"
    __table_args__ = (
        UniqueConstraint("address", "port", "node_group"),
        # AUTOINCREMENT: SQLite must never reuse the id of a deleted row, ETags contain it.
        {"sqlite_autoincrement": True},
    )

    address: Mapped[str] = mapped_column(String(45))
    port: Mapped[int] = mapped_column(Integer)
    node_group: Mapped[str] = mapped_column(String(NAME_LENGTH))


class Service(Resource, Base):
    __tablename__ = "services"
    __table_args__ = ({"sqlite_autoincrement": True},)


def _references(name: str, owner: tuple[str, str], target: tuple[str, str]) -> Table:
    """Which target rows an owner row names, each a (column prefix, table): the pairs go with the
    owner (CASCADE), and the database itself refuses to delete a target still named (RESTRICT)."""
    (owner_column, owner_table), (target_column, target_table) = owner, target
    return Table(
        name,
        Base.metadata,
        Column(
            f"{owner_column}_id",
            ForeignKey(f"{owner_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(
            f"{target_column}_id",
            ForeignKey(f"{target_table}.id", ondelete="RESTRICT"),
            primary_key=True,
            index=True,
        ),
    )


# A service a route still sends traffic to.
route_service_refs = _references("route_service_refs", ("route", "routes"), ("service", "services"))


class Route(Resource, Base):
    __tablename__ = "routes"
    __table_args__ = (
        Index("ix_routes_route_order_name", "route_order", "name"),
        {"sqlite_autoincrement": True},
    )

    listener_id: Mapped[int] = mapped_column(
        ForeignKey("listeners.id", ondelete="RESTRICT"), index=True
    )
    # "order" is an SQL keyword; the column gets a plain name.
    order: Mapped[int] = mapped_column("route_order", Integer)

    listener: Mapped[Listener] = relationship(lazy="raise")
    services: Mapped[list[Service]] = relationship(
        secondary=route_service_refs, lazy="raise", passive_deletes=True
    )


class Certificate(Resource, Base):
    """The spec holds the private key, unencrypted: see the README."""

    __tablename__ = "certificates"
    __table_args__ = ({"sqlite_autoincrement": True},)


class RateLimitPolicy(Resource, Base):
    __tablename__ = "rate_limit_policies"
    __table_args__ = ({"sqlite_autoincrement": True},)


# A route a rate-limit policy names.
policy_route_refs = _references(
    "policy_route_refs", ("policy", "rate_limit_policies"), ("route", "routes")
)


class JwtProvider(Resource, Base):
    __tablename__ = "jwt_providers"
    __table_args__ = ({"sqlite_autoincrement": True},)


class Role(Resource, Base):
    __tablename__ = "roles"
    __table_args__ = ({"sqlite_autoincrement": True},)


class ApiKey(Resource, Base):
    """The spec holds the key's keyed hash, never the key (see model/auth_api_keys.py)."""

    __tablename__ = "api_keys"
    __table_args__ = ({"sqlite_autoincrement": True},)


# What a route's auth names. RESTRICT: a provider or role that routes rely on cannot go.
route_jwt_provider_refs = _references(
    "route_jwt_provider_refs", ("route", "routes"), ("jwt_provider", "jwt_providers")
)
route_role_refs = _references("route_role_refs", ("route", "routes"), ("role", "roles"))


class OAuth2Introspector(Resource, Base):
    """The spec holds the client secret, unencrypted, like a certificate's private key."""

    __tablename__ = "oauth2_introspectors"
    __table_args__ = ({"sqlite_autoincrement": True},)


route_introspector_refs = _references(
    "route_introspector_refs",
    ("route", "routes"),
    ("introspector", "oauth2_introspectors"),
)


class Revision(Base):
    """A single row counting every committed write, so other processes can poll for changes."""

    __tablename__ = "revision"
    __table_args__ = (CheckConstraint(f"id = {REVISION_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


def spec_text(resource: type[Resource]) -> ColumnElement[str]:
    """A resource's spec as the JSON text stored, not decoded by the driver."""
    return cast(resource.spec, Text)
