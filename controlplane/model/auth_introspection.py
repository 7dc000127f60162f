"""OAuth 2.0 token introspection (RFC 7662): opaque access tokens checked against the provider.

Envoy cannot introspect a token: routes accepting these tokens go to the auth service, which
asks the provider's introspection endpoint about each token it has not seen and keeps the
answer until the token expires (at most `max_cache_seconds`). The client secret the service
authenticates with is write-only: the API never returns it and it is never logged.
"""

from typing import Annotated, Self

from pydantic import (
    AnyHttpUrl,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    model_validator,
)

from controlplane.model.auth_providers import ClaimPath
from controlplane.model.common import MIN_SECONDS, Name, Spec

# The claim holding the token's space-separated scopes (RFC 7662 section 2.2).
SCOPE_CLAIM = "scope"
# Scope tokens (RFC 6749 section 3.3): printable ASCII but space, '"' and '\'.
ScopeToken = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[!#-\[\]-~]+$")]


class IntrospectionClaims(Spec):
    """Which members of the introspection answer carry the caller's identity."""

    player_id: ClaimPath = "sub"
    roles: ClaimPath = Field(
        default=SCOPE_CLAIM,
        description="`scope`: the token's space-separated scopes are its roles. Any other "
        "claim: a list of role names, or one space-separated string.",
    )
    tier: ClaimPath | None = None


class IntrospectorFields(Spec):
    """Everything of an introspector but its client secret: what the API returns."""

    name: Name
    introspection_url: AnyHttpUrl = Field(
        description="The provider's RFC 7662 endpoint; tokens are POSTed to it."
    )
    client_id: str = Field(
        min_length=1, max_length=256, description="The gateway's client id at the provider."
    )
    issuer: str | None = Field(
        default=None, min_length=1, max_length=2048, description="When set, `iss` must equal it."
    )
    audiences: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(
        default_factory=list,
        max_length=32,
        description="When set, the token's `aud` must name one of these.",
    )
    required_scopes: list[ScopeToken] = Field(
        default_factory=list,
        max_length=32,
        description="Scopes every accepted token must hold (403 otherwise).",
    )
    claims: IntrospectionClaims = IntrospectionClaims()
    max_cache_seconds: float = Field(
        default=300,
        ge=0,
        le=86400,
        description="An active token's answer is kept until its `exp`, at most this long (0: "
        "never kept). A token revoked at the provider is still accepted for up to this long.",
    )
    negative_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=3600,
        description="How long an inactive token's answer is kept (0: never kept).",
    )
    timeout_seconds: float = Field(
        default=0.15,
        ge=MIN_SECONDS,
        le=10,
        description="How long the auth service waits for the provider; then the request is "
        "refused (503). Keep it under Envoy's wait for the auth service "
        "(CHAOSGW_EXTAUTHZ_TIMEOUT_SECONDS), or Envoy gives up first (503 too).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        for field in ("audiences", "required_scopes"):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                raise ValueError(f"{field} lists a value twice")
        return self


class OAuth2IntrospectorSpec(IntrospectorFields):
    """An introspection endpoint and the client credentials the gateway calls it with."""

    # Validation errors carry no input values, so the secret never lands in an error or a log.
    model_config = ConfigDict(hide_input_in_errors=True)

    client_secret: SecretStr = Field(
        min_length=1,
        max_length=1024,
        description="Sent with `client_id` in HTTP Basic authentication. Write-only: never "
        "returned.",
    )

    @field_serializer("client_secret", when_used="json")
    def _stored_secret(self, secret: SecretStr) -> str:
        # JSON is what the store keeps; Python dumps and reprs keep it masked.
        return secret.get_secret_value()
