"""Route bodies of the admin API."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controlplane.api.metadata import StoredResource
from controlplane.api.pagination import Page
from controlplane.model import RouteSpec


class RouteWarning(BaseModel):
    type: Literal["shadowed", "shadows"] = Field(
        description="`shadowed`: this route can never match, `route` takes all its requests "
        "first. `shadows`: this route takes all the requests of `route`, which comes after it."
    )
    route: str = Field(description="The other route.")
    message: str


class RouteResource(StoredResource, RouteSpec):
    """A stored route: its spec, plus metadata."""

    warnings: list[RouteWarning] = Field(
        default_factory=list,
        description="Problems with the route as saved; it is stored and served regardless. "
        "Filled in answers about one route (create, read, replace, rollout); empty in lists.",
    )


class RoutePage(Page[RouteResource]):
    """One page of routes."""


class RolloutShare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    percent: int = Field(ge=0, le=100, description="Share of requests sent to the rollout.")
