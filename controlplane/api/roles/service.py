"""Role rules: unique names, and no deleting a role that routes require by name. A change of
a role's permissions changes who may call the routes requiring them, at the next push."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.api.roles.schemas import RolePage, RoleResource
from controlplane.model import RoleSpec
from controlplane.store.repositories.auth import roles
from controlplane.store.tables import Role


def _check_unused(session: Session, row: Role) -> None:
    users = roles.route_names(session, row, limit=NAMED_LIMIT + 1)
    if users:
        raise Conflict(
            f"role {row.name!r} is still required by routes {quoted(users)}; change or delete "
            "them first",
            details=in_the_way("routes", users, "route {name!r} requires this role"),
        )


resources = ResourceService(
    ResourceKind("role", "roles", RoleSpec, RoleResource, RolePage),
    roles,
    add=roles.add,
    replace=roles.replace,
    check_deletable=_check_unused,
)
