"""The `envoy.service.auth.v3.Authorization` gRPC service.

Registered as a generic handler that takes raw bytes: a request that does not decode gets
INVALID_ARGUMENT (Envoy then refuses the request: it fails closed), and every answer goes out
as bytes built beforehand or kept from an earlier request. No logging on the hot path; no
credential ever leaves it.

A check: the route's policy (named by the check's `route` context extension), the credential
the request presents that the policy accepts, the identity its kind's verifier proves, then the
policy's role terms on that identity, then its resource-level rule (the path's owner).
"""

from collections.abc import Mapping
from typing import Any

import grpc
from envoy.service.auth.v3 import external_auth_pb2
from google.protobuf.message import DecodeError

from authcontract import denials
from extauthz import metrics, response
from extauthz.credentials import JwtLocator, Verifier, presented
from extauthz.identity import API_KEY, JWT, OAUTH2, SESSION
from extauthz.policies import RoutePolicies

ROUTE_CONTEXT = "route"
_SERVICE = "envoy.service.auth.v3.Authorization"
_KINDS = (API_KEY, JWT, SESSION, OAUTH2, "none")


class AuthorizationServicer:
    def __init__(
        self,
        policies: RoutePolicies,
        verifiers: Mapping[str, Verifier],
        locate_jwt: JwtLocator | None = None,
    ) -> None:
        self._policies = policies
        self._verifiers = verifiers
        self._locate_jwt = locate_jwt
        self._allowed = {
            kind: metrics.DECISIONS.labels(kind=kind, outcome="allowed", reason="ok")
            for kind in _KINDS
        }
        self._denied = {
            (kind, reason): metrics.DECISIONS.labels(kind=kind, outcome="denied", reason=reason)
            for kind in _KINDS
            for reason in denials.REASONS
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
        return await self.decide(request)

    async def decide(self, request: external_auth_pb2.CheckRequest) -> bytes:
        attributes = request.attributes
        route = attributes.context_extensions.get(ROUTE_CONTEXT, "")
        policy = self._policies.by_route.get(route)
        if policy is None:
            return self._deny("none", denials.NO_POLICY, "")
        http = attributes.request.http
        credential = presented(http.headers, policy)
        if credential is None and self._locate_jwt is not None and JWT in policy.accepts:
            credential = self._locate_jwt(http.headers, http.path, policy)
        if credential is None:
            return self._deny("none", denials.MISSING, policy.challenge)
        verifier = self._verifiers.get(credential.kind)
        if verifier is None:  # a kind this process was started without: refuse, never admit
            return self._deny(credential.kind, denials.MISSING, policy.challenge)
        identity = await verifier.verify(credential, policy)
        if isinstance(identity, str):
            return self._deny(credential.kind, identity, policy.challenge)
        if not policy.admits(identity.roles):
            return self._deny(credential.kind, denials.MISSING_ROLE, policy.challenge)
        if policy.owner is not None and not policy.owner.allows(identity, http.path):
            return self._deny(credential.kind, denials.NOT_OWNER, policy.challenge)
        self._allowed[credential.kind].inc()
        return response.admitted(identity, credential.carrier, credential.kept)

    def _deny(self, kind: str, reason: str, challenge: str) -> bytes:
        self._denied[kind, reason].inc()
        return response.denied(reason, challenge)


def add_to_server(servicer: AuthorizationServicer, server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(servicer.check)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, {"Check": handler}),)
    )
