"""Service endpoints: /api/v1/services, and the live status of one."""

from controlplane.api.context import Admin
from controlplane.api.crud.endpoints import crud_router
from controlplane.api.errors import responses
from controlplane.api.paths import NamePath
from controlplane.api.services import service
from controlplane.api.services.status import ServiceStatus, service_status

router = crud_router(service.resources, delete_rule="Refused while routes send traffic to it.")


@router.get(
    "/{name}/status",
    summary="Live state of a service in the Envoys that carry its traffic",
    description="Asks every connected Envoy of the node groups routing to the service (1 s "
    "deadline each): endpoints and whether they get traffic, health-check failures, outlier "
    "ejections, open circuit breakers. An Envoy that does not answer is listed with "
    "`reachable: false` and the reason; the others are reported all the same.",
    responses=responses(404),
)
async def get_service_status(name: NamePath, admin: Admin) -> ServiceStatus:
    return await service_status(admin, name)
