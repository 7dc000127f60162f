"""Rate-limit policy endpoints: /api/v1/rate-limit-policies."""

from fastapi import APIRouter

from controlplane.api.crud.endpoints import crud_router
from controlplane.api.ratelimits import service


def router(*, service_configured: bool) -> APIRouter:
    return crud_router(
        service.resources(service_configured=service_configured),
        create_rule="Every route the policy names must exist (else 422). A global policy needs "
        "a rate-limit service (`CHAOSGW_RATELIMIT_ENDPOINTS`), else 422.",
    )
