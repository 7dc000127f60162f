"""Operational endpoints: liveness, readiness and Prometheus metrics (no token needed)."""

import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from controlplane.api.context import Admin

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    reason: str | None = None


@router.get("/livez", summary="Liveness: the process answers")
async def livez() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers",
    responses={503: {"model": Health, "description": "The database does not answer."}},
)
def readyz(admin: Admin, response: Response) -> Health:
    try:
        admin.database.ping()
    except SQLAlchemyError as error:
        # The details (hosts, driver messages) go to the log, not to an unauthenticated caller.
        log.warning("readiness check failed", extra={"error": str(error).splitlines()[0]})
        response.status_code = 503
        return Health(status="unavailable", reason=f"database unreachable ({type(error).__name__})")
    return Health(status="ok")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
