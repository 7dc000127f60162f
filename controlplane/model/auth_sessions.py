"""Server-side sessions as the user-management service asks for them: whose, with which roles
and tier, and how long they may idle and live. The gateway makes the id; Redis holds the
session (see the sessionstore package)."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from controlplane.model.common import Name, Spec

# Player ids reach Redis key names and upstream headers: printable, no spaces or separators.
PlayerId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
        description="The player's id, sent upstream as x-chaosgw-player-id.",
        examples=["player-7"],
    ),
]
DAY = 86_400
MAX_IDLE_SECONDS = 30 * DAY
MAX_ABSOLUTE_SECONDS = 90 * DAY
DEFAULT_COOKIE = "chaosgw_session"


class SessionSpec(Spec):
    player_id: PlayerId
    roles: list[Name] = Field(default_factory=list, max_length=64)
    tier: Name | None = Field(default=None, description="Rate-limit tier of the player's calls.")
    idle_timeout_seconds: int = Field(
        default=1800,
        ge=1,
        le=MAX_IDLE_SECONDS,
        description="Refused once unused this long; every admitted request restarts the wait.",
    )
    absolute_timeout_seconds: int = Field(
        default=DAY,
        ge=1,
        le=MAX_ABSOLUTE_SECONDS,
        description="Refused this long after creation, however much it is used.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles lists a role twice")
        if self.idle_timeout_seconds > self.absolute_timeout_seconds:
            raise ValueError("idle_timeout_seconds cannot exceed absolute_timeout_seconds")
        return self
