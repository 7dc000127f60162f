"""Who may call a route: anybody, or callers with given credentials, roles and permissions.

Envoy checks JWTs and roles by itself when that is all a route asks. API keys, sessions, OAuth2
introspection and owner rules need the auth service, which then checks every credential of the
route, JWTs too.
"""

from typing import Literal, Self

from pydantic import Field, model_validator

from controlplane.model.auth_resource_rules import OwnerRule
from controlplane.model.auth_roles import Permission
from controlplane.model.auth_sessions import DEFAULT_COOKIE
from controlplane.model.common import Name, Spec

# Checked by the auth service (extauthz); "jwt" is checked by Envoy itself.
SERVICE_CREDENTIALS = frozenset({"api_key", "session", "oauth2_introspection"})


class JwtCredential(Spec):
    kind: Literal["jwt"] = "jwt"
    providers: list[Name] = Field(
        min_length=1, max_length=16, description="JWT providers whose tokens are accepted."
    )


class ServiceCredential(Spec):
    """An API key (see the API keys resource), checked by the auth service."""

    kind: Literal["api_key"]


class IntrospectionCredential(Spec):
    """Opaque access tokens, introspected (RFC 7662) by the auth service."""

    kind: Literal["oauth2_introspection"] = "oauth2_introspection"
    introspectors: list[Name] = Field(
        min_length=1,
        max_length=8,
        description="OAuth 2.0 introspectors asked about a token, in order: the first that "
        "finds it active decides.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.introspectors)) != len(self.introspectors):
            raise ValueError("introspectors names an introspector twice")
        return self


class SessionCredential(Spec):
    """A server-side session id (see the sessions API), in a cookie or the x-chaosgw-session
    header."""

    kind: Literal["session"] = "session"
    cookie: str = Field(
        default=DEFAULT_COOKIE,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        description="The cookie holding the session id; not passed on upstream.",
    )


class PublicAuth(Spec):
    type: Literal["public"] = "public"


class AuthenticatedAuth(Spec):
    type: Literal["authenticated"] = "authenticated"
    credentials: list[
        JwtCredential | ServiceCredential | SessionCredential | IntrospectionCredential
    ] = Field(min_length=1, max_length=4)
    roles_any_of: list[Name] = Field(
        default_factory=list, max_length=64, description="The caller holds one of these roles."
    )
    permissions_any_of: list[Permission] = Field(default_factory=list, max_length=64)
    permissions_all_of: list[Permission] = Field(default_factory=list, max_length=64)
    owner: OwnerRule | None = Field(
        default=None,
        description="A resource-level rule: the caller must be the player the path names. "
        "Checked by the auth service.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        kinds = [credential.kind for credential in self.credentials]
        if len(set(kinds)) != len(kinds):
            raise ValueError("credentials lists a kind twice")
        for field in ("roles_any_of", "permissions_any_of", "permissions_all_of"):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                raise ValueError(f"{field} lists a value twice")
        return self

    def jwt_providers(self) -> list[str]:
        return [
            name
            for credential in self.credentials
            if isinstance(credential, JwtCredential)
            for name in credential.providers
        ]

    def introspectors(self) -> list[str]:
        return [
            name
            for credential in self.credentials
            if isinstance(credential, IntrospectionCredential)
            for name in credential.introspectors
        ]

    def service_credentials(self) -> list[str]:
        """The credential kinds the auth service checks for this route."""
        return [c.kind for c in self.credentials if c.kind in SERVICE_CREDENTIALS]

    def needs_service(self) -> bool:
        """Whether the auth service checks the route: it accepts a credential only the service
        checks, or has a rule Envoy's RBAC cannot express. The service then checks every
        credential of the route, JWTs too (Envoy's `jwt_authn` stays off: one token, one
        parse)."""
        return bool(self.service_credentials()) or self.owner is not None

    def session_cookie(self) -> str:
        """The cookie of the route's session credential; empty without one."""
        return next((c.cookie for c in self.credentials if isinstance(c, SessionCredential)), "")


RouteAuth = PublicAuth | AuthenticatedAuth
