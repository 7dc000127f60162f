"""Engine, sessions and migrations of the store: a SQLite file or PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# How long a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_SECONDS = 15.0
# Key of the PostgreSQL advisory lock that serialises concurrent `migrate()` calls.
_MIGRATION_LOCK_KEY = 0x63_68_61_6F_73_67_77  # "chaosgw"
_SQLITE_BEGIN = "chaosgw_sqlite_begin"


class SchemaState(Enum):
    """Where the database's schema stands against this code's newest migration."""

    CURRENT = "current"
    # Older than this code: `chaosgw migrate` has not run yet.
    BEHIND = "behind"
    # Migrated by a newer release: what old replicas see during a rollout.
    NEWER = "newer"


class SchemaBehindError(Exception):
    """The database needs migrations that have not run; the message says how to run them."""


class Database:
    """The store's connection to its database.

    `session()` is a read-write transaction; `snapshot()` a read-only one that sees one
    consistent state of every table (what a translator run needs).
    """

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        if self.url.drivername == "postgresql":
            # SQLAlchemy's default PostgreSQL driver is psycopg2; this project ships psycopg 3.
            self.url = self.url.set(drivername="postgresql+psycopg")
        self.engine = _create_engine(self.url)
        backend = self.url.get_backend_name()
        # SQLite: take the write lock when the transaction starts, so two writers queue on the
        # busy timeout instead of one failing when it upgrades a read lock mid-transaction.
        write_options: dict[str, Any] = (
            {_SQLITE_BEGIN: "BEGIN IMMEDIATE"} if backend == "sqlite" else {}
        )
        # PostgreSQL: READ COMMITTED would let each SELECT see a different commit.
        read_options: dict[str, Any] = (
            {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if backend == "postgresql"
            else {}
        )
        self._writer = sessionmaker(
            bind=self.engine.execution_options(**write_options), expire_on_commit=False
        )
        self._reader = sessionmaker(bind=self.engine.execution_options(**read_options))

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-write transaction: committed when the block succeeds, rolled back otherwise."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only transaction over one consistent state of the database."""
        # Never committed: closing the session rolls the read transaction back.
        with self._reader() as session:
            yield session

    def ping(self) -> None:
        """Raise `sqlalchemy.exc.SQLAlchemyError` unless the database answers a query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def schema_state(self) -> SchemaState:
        """Compares the revision the database is at with this code's newest migration."""
        script = ScriptDirectory.from_config(migrations_config())
        with self.engine.connect() as connection:
            applied = set(MigrationContext.configure(connection).get_current_heads())
        if applied == set(script.get_heads()):
            return SchemaState.CURRENT
        for revision in applied:
            try:
                script.get_revision(revision)
            except CommandError:
                return SchemaState.NEWER
        # Migrations only ever go forward in one line: a known revision that is not the head
        # (or none at all, on an empty database) is behind it.
        return SchemaState.BEHIND

    def require_schema(self) -> SchemaState:
        """Raises `SchemaBehindError` unless the schema is current or newer than this code.

        A newer schema is accepted: during a rollout the migration runs first and the old
        replicas keep serving on it until they are replaced (migrations stay compatible with
        the release before them).
        """
        state = self.schema_state()
        if state is SchemaState.BEHIND:
            raise SchemaBehindError(
                f"the database schema at {self.url.render_as_string(hide_password=True)} is "
                "older than this release: run `chaosgw migrate` first (or set "
                "CHAOSGW_MIGRATE_ON_START=true to migrate at start)"
            )
        return state

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is already there."""
        config = migrations_config()
        with self.engine.connect() as connection:
            if self.backend == "sqlite":
                # Batch migrations copy and drop tables; foreign keys must be off meanwhile
                # (the pragma is ignored inside a transaction, so set it before one starts).
                _set_sqlite_foreign_keys(connection, enabled=False)
            # Concurrent migrators (replicas starting together) take turns.
            connection.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
            try:
                with connection.begin():
                    if self.backend == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _MIGRATION_LOCK_KEY},
                        )
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
                    if self.backend == "sqlite":
                        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if problems:
                            raise RuntimeError(f"migration broke foreign keys: {problems}")
            finally:
                if self.backend == "sqlite":
                    _set_sqlite_foreign_keys(connection, enabled=True)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def migrations_config() -> Config:
    """Alembic's configuration for the migrations shipped in this package (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _create_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        _configure_sqlite(engine, wal=not in_memory)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database {url.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
    )


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    # pysqlite opens transactions lazily and never for SELECTs, so reads would not be
    # consistent; take over and emit BEGIN ourselves (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                # Readers do not block the writer nor the writer the readers.
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))


def _set_sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    # Straight on the DB-API connection: going through SQLAlchemy would first emit BEGIN.
    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}"
    )
