"""Error answers of the admin API: one JSON shape for every 4xx and 5xx.

{"error": {"code": "not_found", "message": "...", "details": [{"field": ..., ...}]}}
"""

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import ExceptionHandler

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    message: str
    field: str | None = Field(
        default=None, description="Path of the offending field, e.g. `action.backends[0].service`."
    )
    location: str | None = Field(
        default=None, description="Where the field is: `body`, `path`, `query` or `header`."
    )
    resource: str | None = Field(
        default=None, description="API path of a resource involved, e.g. a route in the way."
    )
    type: str | None = Field(default=None, description="Machine-readable kind of the problem.")


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What is wrong, for humans.")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    """An error answer; raise it anywhere in a request, the handler renders it."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Sequence[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class InvalidReference(ApiError):
    """The request is well-formed but names something that does not exist."""

    status, code = 422, "invalid_reference"


class Invalid(ApiError):
    status, code = 422, "validation_failed"


class PreconditionFailed(ApiError):
    status, code = 412, "precondition_failed"


class PreconditionRequired(ApiError):
    status, code = 428, "precondition_required"


class _ErrorJSONResponse(JSONResponse):
    # ASCII-escaped: an error message quoting odd input (a lone surrogate, say) still renders.
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=list(details)))
    return _ErrorJSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers
    )


def _field_path(parts: Sequence[int | str]) -> str:
    path = ""
    for part in parts:
        if isinstance(part, str) and "=" in part:
            continue  # the tag of a union's member (`type=forward`), not a field
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _validation_detail(error: Mapping[str, Any]) -> ErrorDetail:
    location, *rest = error.get("loc") or ("body",)
    message = str(error.get("msg", "invalid value"))
    # Our validators raise ValueError; pydantic prefixes the message with its class.
    message = message.removeprefix("Value error, ")
    if not rest and location == "body" and error.get("type") == "missing":
        message = "a JSON request body is required"
    return ErrorDetail(
        field=_field_path(rest) or None,
        location=str(location),
        message=message,
        type=str(error.get("type")) if error.get("type") else None,
    )


async def _api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.details, error.headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        reason = (malformed.get("ctx") or {}).get("error", "JSON decode error")
        position = malformed["loc"][-1] if malformed.get("loc") else "?"
        return error_response(
            400, "malformed_json", f"the request body is not valid JSON: {reason} at {position}"
        )
    details = [_validation_detail(e) for e in errors]
    fields = ", ".join(sorted({d.field or d.location or "body" for d in details}))
    return error_response(422, "validation_failed", f"invalid request: check {fields}", details)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    try:
        phrase = HTTPStatus(error.status_code).phrase
    except ValueError:
        phrase = "error"
    code = phrase.lower().replace(" ", "_").replace("-", "_").replace("'", "")
    message = error.detail if isinstance(error.detail, str) and error.detail else phrase
    return error_response(error.status_code, code, message, headers=error.headers)


def _method_not_allowed(routes: Sequence[BaseRoute]) -> ExceptionHandler:
    # Starlette's Allow header lists the methods of the first route matching the path only;
    # each of our methods is its own route, so gather them all.
    async def handler(request: Request, error: Exception) -> JSONResponse:
        allowed = sorted(
            {
                method
                for route in routes
                if isinstance(route, Route) and route.path_regex.match(request.url.path)
                for method in route.methods or ()
            }
        )
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here; use {', '.join(allowed) or 'another path'}",
            headers={"Allow": ", ".join(allowed)},
        )

    return handler


async def _database_unavailable(_request: Request, error: Exception) -> JSONResponse:
    log.error("database unavailable", extra={"error": type(error).__name__})
    return error_response(
        503,
        "database_unavailable",
        "the control plane cannot reach its database; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=error)
    return error_response(
        500, "internal_error", "internal error; the control plane logs have the details"
    )


def install_error_handlers(app: FastAPI, routes: Sequence[BaseRoute]) -> None:
    """Render every error as JSON; `routes` are all the app's routes (for 405's Allow)."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(405, _method_not_allowed(routes))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    for error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for error statuses an operation can answer."""
    return {
        status: {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
