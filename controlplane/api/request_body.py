"""Request bodies of the admin API: well-formed JSON only, and never more than a bound.

A declared Content-Length over the bound is refused before reading anything; a body sent
without one (chunked) is counted as it arrives and refused as soon as it passes the bound, so a
huge body costs at most the bound in memory and time.
"""

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.api.errors import error_response

MAX_BODY_BYTES = 1024 * 1024
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON does not, and neither do we.
    raise ValueError(f"{name} is not a JSON value")


def _json_problem(body: bytes) -> str | None:
    """Why `body` is not a JSON document, or None if it is (an empty body is left to the
    endpoint, which says whether it needs one)."""
    if not body.strip():
        return None
    try:
        json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        return f"the request body is not UTF-8: invalid byte at position {error.start}"
    except json.JSONDecodeError as error:
        return (
            f"the request body is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        )
    except RecursionError:
        return "the request body nests arrays or objects too deeply"
    except ValueError as error:  # NaN, or an integer with thousands of digits
        return f"the request body is not usable JSON: {str(error).split(';')[0]}"
    return None


class JsonBodyMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES, prefix: str) -> None:
        self.app = app
        self._max_bytes = max_bytes
        self._prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            declared = declared.strip()
            # isascii: "²".isdigit() is true, and int("²") raises.
            if not (declared.isascii() and declared.isdigit()):
                await self._refuse(
                    scope, receive, send, 400, "bad_request", "invalid Content-Length header"
                )
                return
            if int(declared) > self._max_bytes:
                await self._too_large(scope, receive, send)
                return
        if scope["method"] not in _METHODS_WITH_BODY or not scope["path"].startswith(self._prefix):
            await self.app(scope, receive, send)
            return
        if not _is_json(headers.get("content-type")):
            await self._refuse(
                scope,
                receive,
                send,
                415,
                "unsupported_media_type",
                "send the request body as JSON with 'Content-Type: application/json'",
            )
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = b"".join(chunks)
        problem = _json_problem(body)
        if problem is not None:
            await self._refuse(scope, receive, send, 400, "malformed_json", problem)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._refuse(
            scope,
            receive,
            send,
            413,
            "payload_too_large",
            f"the request body is larger than {self._max_bytes} bytes",
            # The rest of the body stays unread: the connection cannot be reused.
            {"Connection": "close"},
        )

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        await error_response(status, code, message, headers=headers)(scope, receive, send)
