"""JWT providers: who issues the tokens players present, and where their keys are.

Envoy's `jwt_authn` verifies the tokens. The control plane reads the provider's key set
itself (from a URL, or from the URL its OpenID Connect discovery document names) and pushes
the keys inline, so key rotation reaches every Envoy without any Envoy calling the provider.
"""

import re
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, AnyHttpUrl, Field, field_validator, model_validator

from controlplane.model.auth_jwks import JwtAlgorithm, check_jwks
from controlplane.model.common import Name, Spec

# A claim, or a path into nested claims: "roles", "realm_access.roles".
ClaimPath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*$",
        examples=["realm_access.roles"],
    ),
]
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _check_token_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid cookie or query parameter name")
    return value


TokenName = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_check_token_name)]


class InlineJwks(Spec):
    """Keys given in the spec itself: a JWKS document (`{"keys": [...]}`)."""

    type: Literal["inline"] = "inline"
    document: dict[str, Any] = Field(description='The JWKS: `{"keys": [{"kty": "RSA", ...}]}`.')

    @field_validator("document")
    @classmethod
    def _valid_jwks(cls, document: dict[str, Any]) -> dict[str, Any]:
        check_jwks(document)
        return document


class RemoteJwks(Spec):
    """Keys the control plane fetches from `uri`, or from the `jwks_uri` of the provider's
    OpenID Connect discovery document, and fetches again every `refresh_seconds`."""

    type: Literal["remote"] = "remote"
    uri: AnyHttpUrl | None = Field(default=None, description="The JWKS URL.")
    oidc_discovery: bool = Field(
        default=False,
        description="Find the JWKS URL in `<issuer>/.well-known/openid-configuration` "
        "(the issuer must then be an http(s) URL).",
    )
    refresh_seconds: float = Field(
        default=300,
        ge=1,
        le=86400,
        description="How often the keys are fetched again: a rotated key is accepted (and a "
        "removed one refused) at most this long after the provider publishes the change.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.uri is None) == (not self.oidc_discovery):
            raise ValueError("give either uri or oidc_discovery: true")
        return self


class ClaimNames(Spec):
    """Which claims carry the caller's identity, passed upstream as x-chaosgw-* headers."""

    player_id: ClaimPath = "sub"
    roles: ClaimPath = Field(default="roles", description="A list of role names.")
    tier: ClaimPath | None = None


class TokenSources(Spec):
    """Where the token is read from. The query string is a leaky place for a credential (it
    ends up in logs and browser history): it is used only where explicitly allowed."""

    authorization_header: bool = Field(default=True, description="`Authorization: Bearer`.")
    cookies: list[TokenName] = Field(default_factory=list, max_length=8)
    query_parameter: TokenName | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not (self.authorization_header or self.cookies or self.query_parameter):
            raise ValueError("name at least one place to read the token from")
        return self


class JwtProviderSpec(Spec):
    name: Name
    issuer: str = Field(min_length=1, max_length=2048, description="The `iss` tokens carry.")
    audiences: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(
        min_length=1, max_length=32, description="A token must name one of these in `aud`."
    )
    algorithms: list[JwtAlgorithm] = Field(
        min_length=1,
        max_length=10,
        description="The only signature algorithms accepted: keys of other algorithms are "
        "not given to Envoy. Symmetric (HS*) and `none` are never accepted.",
    )
    jwks: InlineJwks | RemoteJwks = Field(discriminator="type")
    claims: ClaimNames = ClaimNames()
    clock_skew_seconds: int = Field(
        default=30, ge=0, le=300, description="Leeway on `exp` and `nbf`."
    )
    token_sources: TokenSources = TokenSources()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError("algorithms lists an algorithm twice")
        if len(set(self.audiences)) != len(self.audiences):
            raise ValueError("audiences lists an audience twice")
        discovers = isinstance(self.jwks, RemoteJwks) and self.jwks.oidc_discovery
        if discovers and not self.issuer.startswith(("https://", "http://")):
            raise ValueError("oidc_discovery needs an issuer that is an http(s) URL")
        return self

    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"
