"""The `envoy.service.auth.v3.Authorization` gRPC service.

Registered as a generic handler that takes raw bytes: a request that does not decode gets
INVALID_ARGUMENT (Envoy then refuses the request: it fails closed), and every answer goes out
as bytes built beforehand. No logging and no I/O on the hot path; the key never leaves it.
"""

import time
from collections.abc import Callable
from typing import Any

import grpc
from envoy.service.auth.v3 import external_auth_pb2
from google.protobuf.message import DecodeError

from extauthz import metrics, response
from extauthz.book import Book

ROUTE_CONTEXT = "route"
_SERVICE = "envoy.service.auth.v3.Authorization"
_SCHEME = "apikey "
_KIND = "api_key"


class AuthorizationServicer:
    def __init__(self, book: Book, key_hash: Callable[[str], str]) -> None:
        self._book = book
        self._hash = key_hash
        self._allowed = metrics.DECISIONS.labels(kind=_KIND, outcome="allowed", reason="ok")
        self._denied = {
            reason: metrics.DECISIONS.labels(kind=_KIND, outcome="denied", reason=reason)
            for reason in response.DENIALS
        }
        self._invalid = metrics.DECISIONS.labels(
            kind="none", outcome="invalid", reason="undecodable"
        )

    async def check(
        self, request_bytes: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        request = external_auth_pb2.CheckRequest()
        try:
            request.ParseFromString(request_bytes)
        except DecodeError:
            self._invalid.inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a CheckRequest")
        return self.decide(request)

    def decide(self, request: external_auth_pb2.CheckRequest) -> bytes:
        attributes = request.attributes
        policy = self._book.policies.get(attributes.context_extensions.get(ROUTE_CONTEXT, ""))
        if policy is None:
            return self._deny(response.NO_POLICY)
        if not policy.api_keys:
            return self._deny(response.WRONG_KIND)
        headers = attributes.request.http.headers
        key = headers.get(response.API_KEY_HEADER)
        from_header = key is not None
        if key is None:
            authorization = headers.get(response.AUTHORIZATION_HEADER, "")
            if authorization[: len(_SCHEME)].lower() == _SCHEME:
                key = authorization[len(_SCHEME) :].strip()
        if not key:
            return self._deny(response.MISSING)
        found = self._book.keys.get(self._hash(key))
        if found is None:
            return self._deny(response.UNKNOWN)
        if found.expires_at is not None and time.time() >= found.expires_at:
            return self._deny(response.EXPIRED)
        if not policy.admits(found.roles):
            return self._deny(response.MISSING_ROLE)
        self._allowed.inc()
        allowed = found.allowed
        return allowed.from_api_key_header if from_header else allowed.from_authorization

    def _deny(self, reason: str) -> bytes:
        self._denied[reason].inc()
        return response.DENIALS[reason]


def add_to_server(servicer: AuthorizationServicer, server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(servicer.check)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, {"Check": handler}),)
    )
