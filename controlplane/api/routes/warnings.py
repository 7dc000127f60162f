"""Warnings about a saved route: shadowed routes, which can never match."""

from sqlalchemy.orm import Session

from controlplane.api.routes.schemas import RouteResource, RouteWarning
from controlplane.model import RouteSpec
from controlplane.model.shadowing import shadows
from controlplane.store.repositories import routes
from controlplane.store.tables import Route


def describe(session: Session, row: Route) -> RouteResource:
    """The stored route, with warnings about it and its listener's other routes."""
    route = RouteResource.of(row)
    others = [
        RouteSpec.model_validate(spec)
        for spec in routes.specs_on_listener(session, row.listener_id)
        if spec["name"] != route.name
    ]
    found = [
        RouteWarning(
            type="shadowed",
            route=other.name,
            message=f"route {route.name!r} can never match: route {other.name!r} "
            f"(order {other.order}) comes first and matches every request it would",
        )
        for other in sorted(others, key=RouteSpec.sort_key)
        if shadows(other, route)
    ]
    found.extend(
        RouteWarning(
            type="shadows",
            route=other.name,
            message=f"route {other.name!r} (order {other.order}) can never match: this route "
            "comes first and matches every request it would",
        )
        for other in sorted(others, key=RouteSpec.sort_key)
        if shadows(route, other)
    )
    return route.model_copy(update={"warnings": found})
