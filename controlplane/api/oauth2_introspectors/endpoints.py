"""OAuth 2.0 introspector endpoints: /api/v1/oauth2-introspectors."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.oauth2_introspectors import service

router = crud_router(
    service.resources,
    create_rule="`client_secret` is stored, sent to the auth service over its ADS stream, and "
    "never returned: a PUT gives it again.",
    delete_rule="Refused while routes accept tokens it introspects.",
)
