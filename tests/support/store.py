"""Store tricks tests need: simulating what another writer does meanwhile."""

from sqlalchemy import update
from sqlalchemy.orm import Session

from controlplane.store.tables import Resource


def bump_version_behind_the_orm(session: Session, table: type[Resource], row_id: int) -> None:
    """Another writer's update of the row, unseen by the ORM's copy of it.

    On PostgreSQL a second transaction could do this; SQLite writers queue, so simulate it.
    """
    session.execute(
        update(table)
        .where(table.id == row_id)
        .values(version=table.version + 1)
        .execution_options(synchronize_session=False)
    )
