"""Listener endpoints: /api/v1/listeners."""

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.listeners import service

router = crud_router(service.resources, delete_rule="Refused while routes are attached to it.")
