"""Roles: named sets of permissions. Tokens carry role names; routes may require roles or
permissions, and a permission is held by whoever holds a role that grants it."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from controlplane.model.common import Name, Spec

Permission = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[a-z0-9][a-z0-9._:-]*$",
        examples=["inventory.read"],
    ),
]


class RoleSpec(Spec):
    name: Name
    permissions: list[Permission] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.permissions)) != len(self.permissions):
            raise ValueError("permissions lists a permission twice")
        return self
