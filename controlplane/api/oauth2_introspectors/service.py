"""OAuth 2.0 introspector rules: unique names, and no deleting one routes still accept tokens
of."""

from sqlalchemy.orm import Session

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.errors import Conflict
from controlplane.api.oauth2_introspectors.schemas import (
    OAuth2IntrospectorPage,
    OAuth2IntrospectorResource,
)
from controlplane.api.resource_names import NAMED_LIMIT, in_the_way, quoted
from controlplane.model import OAuth2IntrospectorSpec
from controlplane.store.repositories.auth import oauth2_introspectors
from controlplane.store.tables import OAuth2Introspector


def _check_unused(session: Session, row: OAuth2Introspector) -> None:
    users = oauth2_introspectors.route_names(session, row, limit=NAMED_LIMIT + 1)
    if users:
        raise Conflict(
            f"OAuth 2.0 introspector {row.name!r} is still named by routes {quoted(users)}; "
            "change or delete them first",
            details=in_the_way("routes", users, "route {name!r} accepts tokens it introspects"),
        )


resources = ResourceService(
    ResourceKind(
        "OAuth 2.0 introspector",
        "oauth2-introspectors",
        OAuth2IntrospectorSpec,
        OAuth2IntrospectorResource,
        OAuth2IntrospectorPage,
        article="an",
    ),
    oauth2_introspectors,
    add=oauth2_introspectors.add,
    replace=oauth2_introspectors.replace,
    check_deletable=_check_unused,
)
