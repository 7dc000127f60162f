"""Alembic environment.

`Database.migrate()` hands over an open connection in `config.attributes["connection"]`.
Developers generating a new revision run, from the repository root:

    alembic -c controlplane/store/migrations/alembic.ini revision --autogenerate -m "..."

which connects to DATABASE_URL (default: the development SQLite file).
"""

import os

from alembic import context
from sqlalchemy import Connection

from controlplane.settings import DEFAULT_DATABASE_URL
from controlplane.store.tables import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    # Imported here so that a migration run from Database.migrate() never builds a second engine.
    from controlplane.store.database import Database

    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    database = Database(url)
    try:
        with database.engine.connect() as new_connection:
            _run(new_connection)
            new_connection.commit()
    finally:
        database.dispose()


_main()
