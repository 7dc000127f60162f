"""SQL for API keys. A key is created and revoked (deleted), never edited: its stored spec
holds the keyed hash of the key, so the key itself is in no row."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.model import StoredApiKey
from controlplane.store.repositories import revision, specs
from controlplane.store.tables import ApiKey, utcnow


def get(session: Session, name: str) -> ApiKey | None:
    return session.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none()


def page(session: Session, *, limit: int, offset: int) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.name).limit(limit).offset(offset)
    return session.execute(query).scalars().all()


def count(session: Session) -> int:
    return specs.count(session, ApiKey)


def add(session: Session, key: StoredApiKey) -> ApiKey:
    now = utcnow()
    row = ApiKey(
        name=key.name,
        spec=key.model_dump(mode="json"),
        store_revision=revision.bump(session),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def delete(session: Session, row: ApiKey) -> None:
    revision.bump(session)
    session.delete(row)
    session.flush()
