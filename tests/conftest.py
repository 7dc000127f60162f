"""Fixtures shared by the whole test suite, grouped by what they provide."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.engine import URL, make_url

from controlplane.store import Database
from controlplane.store.tables import Base, Revision

# --- Databases (store and admin API tests) -----------------------------------------------
# With DATABASE_URL=postgresql+psycopg://..., these tests run on PostgreSQL: the test session
# creates its own uniquely named databases next to the given one and drops them at the end.
# Otherwise they run on SQLite files in a temporary directory.


class DatabaseFactory:
    """Hands out URLs of new, empty databases."""

    def __init__(self, postgres_url: URL | None, directory: Path) -> None:
        self._postgres_url = postgres_url
        self._directory = directory
        self._created: list[str] = []

    @property
    def backend(self) -> str:
        return "sqlite" if self._postgres_url is None else "postgresql"

    def new_url(self) -> URL:
        name = f"chaosgw_test_{uuid.uuid4().hex[:16]}"
        if self._postgres_url is None:
            return make_url(f"sqlite:///{self._directory / name}.db")
        self._admin(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self._postgres_url.set(database=name)

    def drop_all(self) -> None:
        for name in self._created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()

    def _admin(self, statement: str) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction.
        assert self._postgres_url is not None
        engine = create_engine(self._postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    given = os.environ.get("DATABASE_URL", "")
    postgres_url = make_url(given) if given.startswith("postgresql") else None
    factory = DatabaseFactory(postgres_url, tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def _migrated_database(database_factory: DatabaseFactory) -> Iterator[Database]:
    database = Database(database_factory.new_url())
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def database(_migrated_database: Database) -> Database:
    """A migrated database, emptied before each test (the revision keeps counting)."""
    empty_database(_migrated_database)
    return _migrated_database


def empty_database(database: Database) -> None:
    """Delete every resource (the revision keeps counting)."""
    with database.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table is not Revision.__table__:
                session.execute(delete(table))
