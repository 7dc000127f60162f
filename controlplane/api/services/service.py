"""Service rules: unique names, and no deleting a service routes still send traffic to."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.api.services.schemas import ServicePage, ServiceResource
from controlplane.model import ServiceSpec
from controlplane.store.repositories import services
from controlplane.store.tables import Service


def _check_unused(session: Session, row: Service) -> None:
    users = services.referencing_route_names(session, row, limit=NAMED_LIMIT + 1)
    if users:
        raise Conflict(
            f"service {row.name!r} is still used by routes {quoted(users)}; change or delete "
            "them first",
            details=in_the_way("routes", users, "route {name!r} sends traffic to this service"),
        )


resources = ResourceService(
    ResourceKind("service", "services", ServiceSpec, ServiceResource, ServicePage),
    services,
    add=services.add,
    replace=services.replace,
    check_deletable=_check_unused,
)
