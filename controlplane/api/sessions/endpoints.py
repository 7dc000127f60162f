"""Session endpoints: POST /api/v1/sessions (login), DELETE /api/v1/sessions/{session_id}
(logout), GET and DELETE /api/v1/players/{player_id}/sessions (list, ban).

Sessions live in Redis, not in the store: no ETags, no history, no config push. The auth
service reads them at each request, so a revocation holds from the next request on."""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Response

from controlplane.api.errors import ApiError, NotFound, responses
from controlplane.api.paths import API_PREFIX
from controlplane.api.sessions.schemas import (
    CreatedSession,
    PlayerSessions,
    RevokedSessions,
    SessionSummary,
)
from controlplane.model.auth_sessions import PlayerId, SessionSpec
from sessionstore.store import Sessions, StoreUnavailable

TAG = "sessions"
T = TypeVar("T")

PlayerPath = Annotated[PlayerId, Path(description="The player's id.")]
SessionIdPath = Annotated[
    str, Path(min_length=1, max_length=256, description="The session id given at its creation.")
]


class SessionsUnavailable(ApiError):
    status, code = 503, "sessions_unavailable"


def _stored(operation: Callable[[], T]) -> T:
    try:
        return operation()
    except StoreUnavailable:
        raise SessionsUnavailable(
            "the session store (Redis, CHAOSGW_SESSIONS_REDIS_URL) does not answer; try again",
            headers={"Retry-After": "1"},
        ) from None


def router(sessions: Sessions) -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, tags=[TAG])

    @api.post(
        "/sessions",
        status_code=201,
        summary="Create a session (login)",
        description="Answers the session id itself, this once: Redis keeps only its hash.",
        responses=responses(503),
    )
    def create_session(spec: SessionSpec, response: Response) -> CreatedSession:
        created = _stored(
            lambda: sessions.create(
                spec.player_id,
                spec.roles,
                spec.tier or "",
                spec.idle_timeout_seconds * 1000,
                spec.absolute_timeout_seconds * 1000,
            )
        )
        response.headers["Cache-Control"] = "no-store"
        return CreatedSession.of(spec, created)

    @api.delete(
        "/sessions/{session_id}",
        status_code=204,
        summary="Revoke a session (logout)",
        description="Refused by the gateway from the next request on.",
        responses=responses(404, 503),
    )
    def delete_session(session_id: SessionIdPath) -> Response:
        if not _stored(lambda: sessions.revoke(session_id)):
            raise NotFound("no such session (never made, revoked, or expired long ago)")
        return Response(status_code=204)

    @api.get(
        "/players/{player_id}/sessions",
        summary="List a player's live sessions (never their ids)",
        responses=responses(503),
    )
    def list_player_sessions(player_id: PlayerPath) -> PlayerSessions:
        listed = _stored(lambda: sessions.of_player(player_id))
        return PlayerSessions(
            player_id=player_id, sessions=[SessionSummary.of(item) for item in listed]
        )

    @api.delete(
        "/players/{player_id}/sessions",
        summary="Revoke every session of a player (ban, log out everywhere)",
        responses=responses(503),
    )
    def delete_player_sessions(player_id: PlayerPath) -> RevokedSessions:
        revoked = _stored(lambda: sessions.revoke_player(player_id))
        return RevokedSessions(player_id=player_id, revoked=revoked)

    return api
