"""Database: connections, migrations, and what the schema itself refuses."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

from controlplane.model import ListenerSpec
from controlplane.store import Database, current_revision, load_gateway_state
from controlplane.store.database import MIGRATIONS_DIR
from controlplane.store.repositories import listeners
from controlplane.store.tables import Base, Listener, Route, utcnow
from tests.conftest import DatabaseFactory

TABLES = {"listeners", "services", "routes", "route_service_refs", "revision"}


@pytest.fixture
def empty_database(database_factory: DatabaseFactory) -> Iterator[Database]:
    database = Database(database_factory.new_url())
    yield database
    database.dispose()


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _applied_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrate_creates_the_schema_on_an_empty_database(empty_database: Database) -> None:
    empty_database.migrate()

    assert set(inspect(empty_database.engine).get_table_names()) >= TABLES
    assert _applied_revision(empty_database) == _head()
    with empty_database.snapshot() as session:
        assert current_revision(session) == 0


def test_migrated_schema_matches_the_orm_tables(empty_database: Database) -> None:
    empty_database.migrate()

    with empty_database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrate_again_is_a_no_op_that_keeps_data(empty_database: Database) -> None:
    empty_database.migrate()
    with empty_database.session() as session:
        listeners.add(session, ListenerSpec(name="public", port=8080))

    empty_database.migrate()
    empty_database.migrate()

    assert _applied_revision(empty_database) == _head()
    with empty_database.snapshot() as session:
        row = listeners.get(session, "public")
        assert row is not None
        assert row.port == 8080
        assert current_revision(session) == 1


def test_upgrading_a_0001_database_keeps_its_data(empty_database: Database) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with empty_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        now = utcnow()
        connection.execute(
            insert(Listener.__table__).values(  # type: ignore[arg-type]
                name="public",
                address="0.0.0.0",
                port=8080,
                node_group="default",
                spec=ListenerSpec(name="public", port=8080).model_dump(mode="json"),
                version=3,
                created_at=now,
                updated_at=now,
            )
        )

    empty_database.migrate()

    assert _applied_revision(empty_database) == _head()
    with empty_database.snapshot() as session:
        row = listeners.get(session, "public")
        assert row is not None
        assert (row.port, row.version, row.store_revision) == (8080, 3, 0)
        assert [spec.name for spec in load_gateway_state(session).listeners] == ["public"]


def test_migrate_from_a_second_process_sees_the_same_head(
    empty_database: Database,
) -> None:
    empty_database.migrate()
    other = Database(empty_database.url)
    try:
        other.migrate()
        assert _applied_revision(other) == _head()
    finally:
        other.dispose()


def test_the_database_enforces_foreign_keys(database: Database) -> None:
    now = utcnow()
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(
            insert(Route).values(
                name="orphan",
                listener_id=12345,
                order=0,
                spec={},
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    with database.snapshot() as session:
        assert session.execute(select(Route)).first() is None


def test_ping_answers_when_the_database_is_up(database: Database) -> None:
    database.ping()


def test_ping_raises_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    # A directory is not a SQLite file: connecting fails like an unreachable server would.
    database = Database(f"sqlite:///{tmp_path}")
    try:
        with pytest.raises(OperationalError):
            database.ping()
    finally:
        database.dispose()


def test_sqlite_file_gets_its_parent_directories(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a' / 'b' / 'store.db'}")
    try:
        database.migrate()
        assert (tmp_path / "a" / "b" / "store.db").is_file()
    finally:
        database.dispose()


def test_unsupported_database_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database") as error:
        Database("mysql://user:secret@db/chaos")
    assert "secret" not in str(error.value)


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    database = Database("postgresql://chaos@db.internal/gateway")
    try:
        assert database.url.drivername == "postgresql+psycopg"
        assert database.backend == "postgresql"
    finally:
        database.dispose()
