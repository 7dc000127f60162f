"""Session bodies of the admin API: the id only in the answer to its creation; afterwards a
session is named by its fingerprint, which opens nothing."""

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from controlplane.model.auth_sessions import SessionSpec
from sessionstore.store import Created, Listed

_FINGERPRINT = "A non-secret name of the session: upstreams get it as x-chaosgw-session-id."


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class CreatedSession(SessionSpec):
    """The new session, with its id: shown this once, and never again."""

    session_id: str = Field(
        description="Give it to the player, in the route's cookie or the x-chaosgw-session "
        "header. Store it now: the gateway keeps only a hash."
    )
    fingerprint: str = Field(description=_FINGERPRINT)
    created_at: datetime
    idle_expires_at: datetime = Field(description="Unless used before; each use moves it.")
    absolute_expires_at: datetime = Field(description="Never moves.")

    @classmethod
    def of(cls, spec: SessionSpec, created: Created) -> "CreatedSession":
        return cls(
            **spec.model_dump(),
            session_id=created.session_id,
            fingerprint=created.fingerprint,
            created_at=_instant(created.created_ms),
            idle_expires_at=_instant(created.idle_expires_ms),
            absolute_expires_at=_instant(created.absolute_expires_ms),
        )


class SessionSummary(BaseModel):
    fingerprint: str = Field(description=_FINGERPRINT)
    created_at: datetime
    last_used_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime

    @classmethod
    def of(cls, listed: Listed) -> "SessionSummary":
        return cls(
            fingerprint=listed.fingerprint,
            created_at=_instant(listed.created_ms),
            last_used_at=_instant(listed.last_used_ms),
            idle_expires_at=_instant(listed.idle_expires_ms),
            absolute_expires_at=_instant(listed.absolute_expires_ms),
        )


class PlayerSessions(BaseModel):
    player_id: str
    sessions: list[SessionSummary] = Field(description="The live sessions, oldest first.")


class RevokedSessions(BaseModel):
    player_id: str
    revoked: int = Field(description="How many live sessions were revoked.")
