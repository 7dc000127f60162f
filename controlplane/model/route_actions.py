"""What a route does with a request it matched: forward it upstream (with canaries, gradual
rollouts, mirroring and rewrites), redirect it, or answer it directly.

`RouteAction` is a union discriminated by `type`.
"""

import re
from typing import Annotated, Literal, Self

from pydantic import Discriminator, Field, Tag, model_validator

from controlplane.model.common import Name, Spec
from controlplane.model.regex import check_re2, regex_groups

# Envoy refuses a direct response body above the route configuration's
# `max_direct_response_body_size_bytes`, 4 KiB unless raised.
MAX_DIRECT_BODY_BYTES = 4096

# Paths Envoy will put in a request line or a Location header: visible ASCII only.
UrlPath = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^/[!-~]*$")]
HostAndPort = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$"),
]
# RFC 9110 `tchar`: what header and cookie names are made of.
_TCHAR = r"[A-Za-z0-9!#$%&'*+.^_`|~-]"


class Backend(Spec):
    service: Name
    weight: int = Field(default=1, ge=1, le=10000, description="Relative share of requests.")


class RegexRewrite(Spec):
    pattern: str = Field(min_length=1, max_length=1024, examples=["^/v1/players/([0-9]+)$"])
    substitution: str = Field(
        max_length=2048,
        pattern=r"^[ -~]*$",
        examples=[r"/players/\1"],
        description=r"Replaces each match; `\1`..`\9` insert the pattern's groups.",
    )

    @model_validator(mode="after")
    def _groups_exist(self) -> Self:
        groups = regex_groups(check_re2(self.pattern))
        used = max((int(n) for n in re.findall(r"\\([0-9])", self.substitution)), default=0)
        if used > groups:
            raise ValueError(
                f"substitution uses group \\{used} but the pattern has {groups} group(s)"
            )
        return self


class PathRewrite(Spec):
    """Give exactly one: `prefix` replaces the matched prefix (or exact path); `regex`
    replaces what its pattern matches in the path."""

    prefix: UrlPath | None = Field(default=None, examples=["/v2/inventory"])
    regex: RegexRewrite | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.prefix is None) == (self.regex is None):
            raise ValueError("a path rewrite takes exactly one of 'prefix' and 'regex'")
        return self


class HostRewrite(Spec):
    """Give exactly one: a `literal` Host, or `auto` (the chosen upstream host's name)."""

    literal: HostAndPort | None = None
    auto: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.literal is None) == (not self.auto):
            raise ValueError("a host rewrite takes exactly one of 'literal' and 'auto: true'")
        return self


class CanaryHeader(Spec):
    name: Annotated[str, Field(min_length=1, max_length=256, pattern=rf"^{_TCHAR}+$")]
    value: str = Field(min_length=1, max_length=1024, pattern=r"^[ -~]*$")


class CanaryCookie(Spec):
    name: Annotated[str, Field(min_length=1, max_length=32, pattern=rf"^{_TCHAR}+$")]
    value: str = Field(min_length=1, max_length=24, pattern=r"^[!#-+\--:<-\[\]-~]+$")

    def regex(self) -> str:
        """The whole Cookie header holds NAME=VALUE as one of its cookies."""
        return rf"(.*;\s*)?{re.escape(self.name)}={re.escape(self.value)}(\s*;.*)?"

    @model_validator(mode="after")
    def _fits_envoy(self) -> Self:
        check_re2(self.regex())
        return self


class Canary(Spec):
    """Requests with this header (or cookie) go to `service`; no other request does."""

    service: Name
    header: CanaryHeader | None = None
    cookie: CanaryCookie | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("a canary takes exactly one of 'header' and 'cookie'")
        return self


class Rollout(Spec):
    """`percent` of the matched requests go to `service`, the rest to the backends. Move it
    with PUT .../rollout: Envoy gets the new share over RTDS, the route itself is not resent."""

    service: Name
    percent: int = Field(default=0, ge=0, le=100)


class Mirror(Spec):
    """A copy of `percent` of the requests goes to `service`; its answers are dropped."""

    service: Name
    percent: int = Field(default=100, ge=1, le=100)


# The options of a forward action that name a service of their own.
_SERVICE_OPTIONS = ("canary", "rollout", "mirror")


class ForwardAction(Spec):
    """Send the request upstream: to one service, or split by weight (canary, A/B)."""

    type: Literal["forward"] = "forward"
    backends: list[Backend] = Field(min_length=1, max_length=32)
    canary: Canary | None = None
    rollout: Rollout | None = None
    mirror: Mirror | None = None
    rewrite: PathRewrite | None = None
    host_rewrite: HostRewrite | None = None
    websocket: bool = Field(default=True, description="Accept WebSocket upgrades.")

    @model_validator(mode="after")
    def _distinct_services(self) -> Self:
        names = [backend.service for backend in self.backends]
        if len(set(names)) != len(names):
            raise ValueError("backends name the same service twice")
        return self

    def services(self) -> list[str]:
        """Every service the action names, backends first (translated for every route: fast)."""
        named = [backend.service for backend in self.backends]
        for option in _SERVICE_OPTIONS:
            target: Canary | Rollout | Mirror | None = getattr(self, option)
            if target is not None:
                named.append(target.service)
        return named

    def service_fields(self) -> list[tuple[str, str]]:
        """(field path, service name) of every service the action names."""
        fields = [f"backends[{index}].service" for index in range(len(self.backends))]
        fields += [f"{option}.service" for option in _SERVICE_OPTIONS if getattr(self, option)]
        return list(zip(fields, self.services(), strict=True))

    def check_path(self, path_type: str) -> None:
        if self.rewrite is not None:
            _check_rewrite(path_type, self.rewrite.prefix is not None, self.rewrite.regex)


class RedirectAction(Spec):
    """Answer with a redirect. Give at least one change; `path`, `prefix_rewrite` and
    `regex_rewrite` exclude each other."""

    type: Literal["redirect"]
    https: bool = Field(
        default=False,
        description="Redirect to https. The Host's port is kept unless `port` is given.",
    )
    host: HostAndPort | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    path: UrlPath | None = Field(default=None, description="Replaces the whole path.")
    prefix_rewrite: UrlPath | None = Field(
        default=None, description="Replaces the matched prefix (or exact path)."
    )
    regex_rewrite: RegexRewrite | None = None
    strip_query: bool = False
    response_code: Literal[301, 302, 303, 307, 308] = 301

    @model_validator(mode="after")
    def _one_path_change(self) -> Self:
        paths = [self.path, self.prefix_rewrite, self.regex_rewrite]
        if sum(change is not None for change in paths) > 1:
            raise ValueError("give at most one of 'path', 'prefix_rewrite' and 'regex_rewrite'")
        if not (self.https or self.host or self.port or self.strip_query or any(paths)):
            raise ValueError("a redirect must change something: https, host, port or path")
        return self

    def services(self) -> list[str]:
        return []

    def service_fields(self) -> list[tuple[str, str]]:
        return []

    def check_path(self, path_type: str) -> None:
        _check_rewrite(path_type, self.prefix_rewrite is not None, self.regex_rewrite)


class DirectResponseAction(Spec):
    """Answer from Envoy itself, e.g. a maintenance page; no upstream is involved."""

    type: Literal["direct_response"]
    status: int = Field(ge=200, le=599, examples=[503])
    body: str | None = Field(
        default=None, description=f"At most {MAX_DIRECT_BODY_BYTES} bytes in UTF-8."
    )
    content_type: str = Field(
        default="text/plain; charset=utf-8",
        max_length=256,
        pattern=r"^[!-~][ -~]*$",
        description="Without '%': Envoy would read it as the start of a formatter.",
    )

    @model_validator(mode="after")
    def _content_type_is_plain(self) -> Self:
        if "%" in self.content_type:
            raise ValueError(
                "content_type cannot contain '%': Envoy reads header values as formatters"
            )
        return self

    @model_validator(mode="after")
    def _body_fits(self) -> Self:
        if self.body is not None and len(self.body.encode()) > MAX_DIRECT_BODY_BYTES:
            raise ValueError(f"body is larger than {MAX_DIRECT_BODY_BYTES} bytes")
        return self

    def services(self) -> list[str]:
        return []

    def service_fields(self) -> list[tuple[str, str]]:
        return []

    def check_path(self, path_type: str) -> None:
        pass


def _action_tag(value: object) -> str:
    # `type` may be left out for the first and most common action: forward. The tag shows in
    # validation error locations; the admin API drops such `key=value` parts from field paths.
    kind = value.get("type", "forward") if isinstance(value, dict) else getattr(value, "type", "")
    return f"type={kind}"


RouteAction = Annotated[
    Annotated[ForwardAction, Tag("type=forward")]
    | Annotated[RedirectAction, Tag("type=redirect")]
    | Annotated[DirectResponseAction, Tag("type=direct_response")],
    Discriminator(
        _action_tag,
        custom_error_type="unknown_action",
        custom_error_message="type must be one of 'forward', 'redirect', 'direct_response'",
    ),
]


def _check_rewrite(path_type: str, prefix: bool, regex: RegexRewrite | None) -> None:
    if prefix and path_type not in ("prefix", "exact"):
        raise ValueError(f"a prefix rewrite needs a prefix or exact path match, not {path_type}")
    if regex is not None and path_type == "template":
        raise ValueError("a regex rewrite cannot follow a template path match")
