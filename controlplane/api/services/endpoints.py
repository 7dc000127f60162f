"""Service endpoints: /api/v1/services."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.services import service

router = crud_router(service.resources, delete_rule="Refused while routes send traffic to it.")
