"""OAuth 2.0 introspector rules: unique names, and no deleting one routes still accept tokens
of."""

from controlplane.api.crud.service import ResourceKind, ResourceService
from controlplane.api.oauth2_introspectors.schemas import (
    OAuth2IntrospectorPage,
    OAuth2IntrospectorResource,
)
from controlplane.api.resource_names import unused_by_routes
from controlplane.model import OAuth2IntrospectorSpec
from controlplane.store.repositories.auth import oauth2_introspectors

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
    check_deletable=unused_by_routes(
        oauth2_introspectors,
        "OAuth 2.0 introspector",
        "named by",
        "route {name!r} accepts tokens it introspects",
    ),
)
