"""Route endpoints: /api/v1/routes."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.routes import service

router = crud_router(
    service.resources,
    list_order="in match order (`order`, then name)",
    create_rule="The listener and every service the route names must exist (else 422).",
    delete_rule="Refused while rate-limit policies name it.",
)
