"""Role endpoints: /api/v1/roles."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.roles import service

router = crud_router(service.resources, delete_rule="Refused while routes require it by name.")
