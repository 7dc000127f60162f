"""Edge security policies: CORS, CSRF, security headers, compression, client IP lists, limits.

Each is declared on a listener (the default for all of its routes) or on a route (which then
replaces the listener's for that route).
"""

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from controlplane.model.common import Spec
from controlplane.model.transforms import HeaderValueText

HttpMethodName = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# scheme://host[:port], as a browser sends it in Origin.
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _check_origin(value: str) -> str:
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an origin: use scheme://host[:port] such as "
            "'https://play.chaos.example', or '*'"
        )
    return value.lower()


def _check_token(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{value!r} is not a header name")
    return value.lower()


def _check_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CIDR range such as '10.0.0.0/8': {error}") from None


Origin = Annotated[str, Field(max_length=262), AfterValidator(_check_origin)]
HeaderToken = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_check_token)]
Cidr = Annotated[str, Field(max_length=49), AfterValidator(_check_cidr)]


class CorsPolicy(Spec):
    """Which browser origins may call, answered by Envoy (preflights never reach upstreams)."""

    allow_origins: list[Origin] = Field(min_length=1, max_length=64)
    allow_methods: list[HttpMethodName] = Field(default_factory=list, max_length=7)
    allow_headers: list[HeaderToken] = Field(default_factory=list, max_length=64)
    expose_headers: list[HeaderToken] = Field(default_factory=list, max_length=64)
    max_age_seconds: int | None = Field(default=None, ge=0, le=86400)
    allow_credentials: bool = False

    @model_validator(mode="after")
    def _credentials_need_named_origins(self) -> Self:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials needs named origins: browsers refuse it with '*'")
        return self


class CsrfPolicy(Spec):
    """Refuse (403) state-changing requests whose Origin is not the requested host's own.

    For routes authenticated by cookies: a browser sends them along with a forged cross-site
    request, and the Origin header is what gives it away.
    """

    additional_origins: list[Origin] = Field(default_factory=list, max_length=64)


class SecurityHeaders(Spec):
    """Response headers every route of the listener sends, unless the upstream set them."""

    content_security_policy: HeaderValueText | None = "default-src 'self'; frame-ancestors 'none'"
    strict_transport_security: HeaderValueText | None = "max-age=31536000; includeSubDomains"
    x_content_type_options: HeaderValueText | None = "nosniff"
    x_frame_options: HeaderValueText | None = "DENY"
    referrer_policy: HeaderValueText | None = "strict-origin-when-cross-origin"


class SecurityHeadersOverride(Spec):
    """A route's change to its listener's security headers: values given here replace the
    listener's (and the upstream's); `enabled: false` strips them all from the route's
    responses."""

    enabled: bool = True
    content_security_policy: HeaderValueText | None = None
    strict_transport_security: HeaderValueText | None = None
    x_content_type_options: HeaderValueText | None = None
    x_frame_options: HeaderValueText | None = None
    referrer_policy: HeaderValueText | None = None


Algorithm = Literal["zstd", "brotli", "gzip"]


def _all_algorithms() -> list[Algorithm]:
    return ["zstd", "brotli", "gzip"]


class Compression(Spec):
    """Responses compressed with the best algorithm the client accepts."""

    algorithms: list[Algorithm] = Field(
        default_factory=_all_algorithms,
        min_length=1,
        max_length=3,
        description="In order of preference when the client accepts several equally.",
    )
    content_types: list[Annotated[str, Field(pattern=r"^[a-z0-9.+-]+/[a-z0-9.+*-]+$")]] = Field(
        default_factory=list, max_length=64, description="Empty: Envoy's list of text types."
    )
    min_size_bytes: int = Field(default=1024, ge=0, le=100 * 1024 * 1024)
    routes: Literal["all", "opt_in"] = Field(
        default="all", description="opt_in: only routes with `compression: true`."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.algorithms)) != len(self.algorithms):
            raise ValueError("algorithms lists an algorithm twice")
        return self


class ClientIps(Spec):
    """Client addresses allowed or denied (403). The client address is the connection's peer,
    or, behind trusted proxies, the X-Forwarded-For entry the listener's trusted hops select."""

    allow: list[Cidr] = Field(
        default_factory=list, max_length=256, description="Empty: every address not denied."
    )
    deny: list[Cidr] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.allow and not self.deny:
            raise ValueError("give allow or deny ranges (or leave client_ips out)")
        return self


class RequestLimits(Spec):
    """Limits on every request of a listener; headers over them get 431."""

    max_header_count: int = Field(default=100, ge=1, le=10000)
    max_header_kb: int = Field(default=60, ge=1, le=8192, description="All request headers.")


class PathNormalization(Spec):
    """How request paths are cleaned before routing, so `/a/../admin` cannot sneak past a
    route on `/admin`."""

    normalize: bool = Field(default=True, description="Resolve `.` and `..` (RFC 3986).")
    merge_slashes: bool = Field(default=True, description="`//a//b` becomes `/a/b`.")
    escaped_slashes: Literal["keep", "reject", "unescape_and_redirect", "unescape_and_forward"] = (
        Field(default="reject", description="What to do with `%2F` and `%5C` in paths (400).")
    )
