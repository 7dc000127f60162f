"""Operational endpoints: liveness, readiness and Prometheus metrics (no token needed)."""

import logging
import time
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from adsclient.subscriber import RECONNECT_MAX_SECONDS
from controlplane.api.context import Admin

log = logging.getLogger(__name__)

# After a (re)start, how long readiness waits for the auth and rate-limit services' policy
# streams to come back: they try again at most RECONNECT_MAX_SECONDS (+20 % jitter) after their
# last failed attempt. A restarted control plane cannot know who was subscribed (the node
# registry lives in memory, and a service may come from another replica), so the wait is a
# bound, not a roll call. Once ready, a revocation reaches the services at once.
RESUBSCRIBE_SECONDS = 2 * RECONNECT_MAX_SECONDS

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: Literal["ok", "starting", "unavailable"]
    reason: str | None = None


@router.get("/livez", summary="Liveness: the process answers")
async def livez() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers and the services had time to resubscribe",
    responses={
        503: {
            "model": Health,
            "description": "The database does not answer, or the control plane started less "
            "than half a second ago (status `starting`).",
        }
    },
)
def readyz(admin: Admin, response: Response) -> Health:
    try:
        admin.database.ping()
    except SQLAlchemyError as error:
        # The details (hosts, driver messages) go to the log, not to an unauthenticated caller.
        log.warning("readiness check failed", extra={"error": str(error).splitlines()[0]})
        response.status_code = 503
        return Health(status="unavailable", reason=f"database unreachable ({type(error).__name__})")
    started = admin.xds_started_at
    if started is not None and time.monotonic() - started < RESUBSCRIBE_SECONDS:
        response.status_code = 503
        return Health(status="starting", reason="waiting for the services to resubscribe")
    return Health(status="ok")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
