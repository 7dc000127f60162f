"""The control plane's schema check: behind is refused, current and newer (a rollout) accepted."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from controlplane.store import Database
from controlplane.store.database import SchemaBehindError, SchemaState, migrations_config
from tests.conftest import DatabaseFactory


@pytest.fixture
def empty_database(database_factory: DatabaseFactory) -> Iterator[Database]:
    database = Database(database_factory.new_url())
    yield database
    database.dispose()


def test_an_empty_database_is_behind_and_refused_with_how_to_migrate(
    empty_database: Database,
) -> None:
    assert empty_database.schema_state() is SchemaState.BEHIND
    with pytest.raises(SchemaBehindError, match="run `chaosgw migrate` first"):
        empty_database.require_schema()


def test_a_database_one_migration_behind_is_refused(empty_database: Database) -> None:
    config = migrations_config()
    with empty_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head-1")
    assert empty_database.schema_state() is SchemaState.BEHIND
    with pytest.raises(SchemaBehindError):
        empty_database.require_schema()


def test_a_migrated_database_is_current(empty_database: Database) -> None:
    empty_database.migrate()
    assert empty_database.require_schema() is SchemaState.CURRENT


def test_a_schema_from_a_newer_release_is_accepted_during_a_rollout(
    empty_database: Database,
) -> None:
    empty_database.migrate()
    with empty_database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '99990101_9999'"))
    assert empty_database.require_schema() is SchemaState.NEWER
