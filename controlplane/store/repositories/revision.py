"""The store revision: one integer, incremented by every committed write."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.store.tables import REVISION_ROW_ID, Revision

_BUMPED = "chaosgw.revision_bumped"


def current(session: Session) -> int:
    return session.execute(
        select(Revision.value).where(Revision.id == REVISION_ROW_ID)
    ).scalar_one()


def bump(session: Session) -> int:
    """Increment the revision in the session's transaction; returns the new value.

    On PostgreSQL the row lock taken here is held to commit, so revisions are handed out in
    commit order and a poller never sees revision N+1 committed before N.
    """
    session.info[_BUMPED] = True
    return session.execute(
        update(Revision)
        .where(Revision.id == REVISION_ROW_ID)
        .values(value=Revision.value + 1)
        .returning(Revision.value)
    ).scalar_one()


def bumped(session: Session) -> bool:
    """Whether this session's transaction wrote anything (and so bumped the revision)."""
    return bool(session.info.get(_BUMPED, False))
