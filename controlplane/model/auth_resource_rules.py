"""Resource-level rules of a route's auth: what Envoy's RBAC cannot express (a path segment
compared with the caller's claims), so a route with one is checked by the auth service."""

from typing import Self

from pydantic import Field, model_validator

from controlplane.model.common import Name, Spec


class OwnerRule(Spec):
    """The path's `{path_parameter}` must equal the caller's player id, unless the caller holds
    one of `unless_roles`. The route must match a path template naming that variable."""

    path_parameter: str = Field(
        min_length=1,
        max_length=16,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        examples=["player_id"],
        description="A variable of the route's path template, e.g. `player_id`.",
    )
    unless_roles: list[Name] = Field(
        default_factory=list,
        max_length=64,
        description="Holders of one of these roles may act on any player's resources.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.unless_roles)) != len(self.unless_roles):
            raise ValueError("unless_roles lists a role twice")
        return self
