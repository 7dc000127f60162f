"""Who may call a route: anybody, or callers with given credentials, roles and permissions.

Envoy checks JWTs and roles by itself. The other credential kinds need the auth service: API
keys and sessions are checked there; OAuth2 introspection can be named already, and a route
that needs it is refused until the service checks it rather than served unprotected.
"""

from typing import Literal, Self

from pydantic import Field, model_validator

from controlplane.model.auth_roles import Permission
from controlplane.model.auth_sessions import DEFAULT_COOKIE
from controlplane.model.common import Name, Spec

# Checked by the auth service (extauthz); "jwt" is checked by Envoy itself.
SERVICE_CREDENTIALS = frozenset({"api_key", "session"})
# Not checked by any part of the gateway yet.
NOT_YET_CHECKED = frozenset({"oauth2_introspection"})


class JwtCredential(Spec):
    kind: Literal["jwt"] = "jwt"
    providers: list[Name] = Field(
        min_length=1, max_length=16, description="JWT providers whose tokens are accepted."
    )


class ServiceCredential(Spec):
    """A credential only the auth service can check."""

    kind: Literal["api_key", "oauth2_introspection"]


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
    credentials: list[JwtCredential | ServiceCredential | SessionCredential] = Field(
        min_length=1, max_length=4
    )
    roles_any_of: list[Name] = Field(
        default_factory=list, max_length=64, description="The caller holds one of these roles."
    )
    permissions_any_of: list[Permission] = Field(default_factory=list, max_length=64)
    permissions_all_of: list[Permission] = Field(default_factory=list, max_length=64)

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

    def service_credentials(self) -> list[str]:
        """The credential kinds the auth service checks for this route."""
        return [c.kind for c in self.credentials if c.kind in SERVICE_CREDENTIALS]

    def session_cookie(self) -> str:
        """The cookie of the route's session credential; empty without one."""
        return next((c.cookie for c in self.credentials if isinstance(c, SessionCredential)), "")


RouteAuth = PublicAuth | AuthenticatedAuth
