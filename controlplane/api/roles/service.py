"""Role rules: unique names, and no deleting a role that routes require by name. A change of
a role's permissions changes who may call the routes requiring them, at the next push."""

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.resource_names import unused_by_routes
from controlplane.api.roles.schemas import RolePage, RoleResource
from controlplane.model import RoleSpec
from controlplane.store.repositories.auth import roles

resources = ResourceService(
    ResourceKind("role", "roles", RoleSpec, RoleResource, RolePage),
    roles,
    add=roles.add,
    replace=roles.replace,
    check_deletable=unused_by_routes(
        roles, "role", "required by", "route {name!r} requires this role"
    ),
)
