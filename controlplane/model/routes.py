"""Routes: which requests go where. Compiled into Envoy route configurations served over RDS.

What a route matches is here; what it does with a match is in `route_actions`.
"""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from controlplane.model.auth_route import AuthenticatedAuth, PublicAuth, RouteAuth
from controlplane.model.common import Name, Spec, TimeoutSeconds
from controlplane.model.edge import ClientIps, CorsPolicy, CsrfPolicy, SecurityHeadersOverride
from controlplane.model.path_templates import check_template, variables
from controlplane.model.regex import check_re2
from controlplane.model.retries import Retries
from controlplane.model.route_actions import RouteAction
from controlplane.model.transforms import Transform

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]

# Envoy accepts one leading or trailing '*' in a domain, or the lone '*'.
_DOMAIN = re.compile(
    r"^(\*|\*[.-]?[A-Za-z0-9.-]+|[A-Za-z0-9.-]+[.-]?\*|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$"
)


def _check_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a host: use a name such as 'api.example.com', optionally with a "
            "port, and at most one '*' at its start or end"
        )
    return value.lower()


Domain = Annotated[str, Field(max_length=253), AfterValidator(_check_domain)]
HeaderName = Annotated[
    str, Field(min_length=1, max_length=256, pattern=r"^:?[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
]
# How a header or query parameter value is compared.
StringMatchType = Literal["exact", "regex", "prefix", "suffix", "contains"]


class PathMatch(Spec):
    type: Literal["exact", "prefix", "regex", "template"] = Field(
        default="prefix",
        description="`template`: segments with variables, e.g. `/players/{player_id}/inventory`; "
        "`*` is one segment, `**` the rest of the path.",
    )
    value: str = Field(min_length=1, max_length=2048, examples=["/inventory"])

    @model_validator(mode="after")
    def _valid_for_type(self) -> Self:
        if self.type == "regex":
            check_re2(self.value)
        elif self.type == "template":
            check_template(self.value)
        elif not self.value.startswith("/"):
            raise ValueError(f"a {self.type} path must start with '/'")
        return self


ROOT = PathMatch(type="prefix", value="/")


class HeaderMatch(Spec):
    name: HeaderName
    type: StringMatchType | Literal["present", "absent"] = "exact"
    value: str | None = Field(default=None, max_length=4096)
    invert: bool = Field(default=False, description="Match requests where this does not hold.")

    @model_validator(mode="after")
    def _value_fits_type(self) -> Self:
        _value_for(self.type, self.value)
        return self


class QueryParamMatch(Spec):
    name: str = Field(min_length=1, max_length=256)
    type: StringMatchType | Literal["present"] = "exact"
    value: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _value_fits_type(self) -> Self:
        _value_for(self.type, self.value)
        return self


_PROTO_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"


class GrpcMatch(Spec):
    """gRPC calls of one service, or of one method: the path is `/<service>/<method>`."""

    service: str = Field(
        max_length=512,
        pattern=rf"^{_PROTO_IDENTIFIER}(\.{_PROTO_IDENTIFIER})*$",
        examples=["chaos.world.v1.World"],
        description="Fully qualified service name.",
    )
    method: str | None = Field(
        default=None, max_length=256, pattern=rf"^{_PROTO_IDENTIFIER}$", examples=["Move"]
    )

    def path(self) -> PathMatch:
        if self.method is None:
            return PathMatch(type="prefix", value=f"/{self.service}/")
        return PathMatch(type="exact", value=f"/{self.service}/{self.method}")


class RouteMatch(Spec):
    path: PathMatch = Field(
        default=ROOT, description="With `grpc`, leave it out: it is the gRPC path."
    )
    methods: list[HttpMethod] = Field(default_factory=list, max_length=9)
    headers: list[HeaderMatch] = Field(default_factory=list, max_length=32)
    query_params: list[QueryParamMatch] = Field(default_factory=list, max_length=32)
    grpc: GrpcMatch | None = Field(
        default=None,
        description="Only gRPC requests (content-type application/grpc) to this service/method.",
    )

    @model_validator(mode="after")
    def _no_duplicate_methods(self) -> Self:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods lists a method twice")
        return self

    @model_validator(mode="after")
    def _grpc_sets_the_path(self) -> Self:
        if self.grpc is None:
            return self
        path = self.grpc.path()
        if self.path not in (ROOT, path):
            raise ValueError(f"a gRPC match sets the path ({path.type} {path.value!r}): omit path")
        # Shown as stored: the effective path, not the default it replaces.
        object.__setattr__(self, "path", path)
        return self


class RouteSpec(Spec):
    name: Name
    listener: Name = Field(description="Listener whose route table holds this route.")
    hosts: list[Domain] = Field(default_factory=lambda: ["*"], min_length=1, max_length=64)
    order: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="Routes are tried in ascending order (then by name); the first match wins.",
    )
    match: RouteMatch = RouteMatch()
    action: RouteAction
    timeout_seconds: TimeoutSeconds | None = Field(
        default=None, ge=0, le=3600, description="Overrides the service's request timeout."
    )
    idle_timeout_seconds: TimeoutSeconds | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="Close a stream (a WebSocket, a gRPC stream) silent for this long; 0 never. "
        "Overrides the service's idle timeout.",
    )
    retries: Retries | None = Field(default=None, description="Overrides the service's retries.")
    # Edge policies: see controlplane.model.edge and controlplane.model.transforms.
    transform: Transform | None = None
    cors: CorsPolicy | None = Field(default=None, description="Replaces the listener's.")
    csrf: CsrfPolicy | None = None
    security_headers: SecurityHeadersOverride | None = None
    compression: bool | None = Field(
        default=None, description="Switch the listener's compression on or off for this route."
    )
    client_ips: ClientIps | None = Field(default=None, description="Replaces the listener's.")
    max_body_bytes: int | None = Field(
        default=None,
        ge=1,
        le=1024 * 1024 * 1024,
        description="Larger request bodies get 413. The body is buffered before going upstream.",
    )
    auth: RouteAuth = Field(
        default_factory=PublicAuth, discriminator="type", description="Who may call the route."
    )

    @model_validator(mode="after")
    def _distinct_hosts(self) -> Self:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("hosts lists a host twice")
        return self

    @model_validator(mode="after")
    def _action_fits_match(self) -> Self:
        self.action.check_path(self.match.path.type)
        return self

    @model_validator(mode="after")
    def _owner_names_a_template_variable(self) -> Self:
        auth = self.auth
        if not isinstance(auth, AuthenticatedAuth) or auth.owner is None:
            return self
        name, path = auth.owner.path_parameter, self.match.path
        if path.type != "template" or name not in variables(path.value):
            raise ValueError(
                f"auth.owner.path_parameter {name!r} must be a variable of the route's path "
                f"template (match.path of type 'template' containing {{{name}}})"
            )
        return self

    def sort_key(self) -> tuple[int, str]:
        """Routes of a listener are tried in this order; the first match wins."""
        return self.order, self.name

    def services(self) -> set[str]:
        """Every service this route sends traffic to."""
        return set(self.action.services())


def host_covers(pattern: str, domain: str) -> bool:
    """Whether every host that `domain` matches is also matched by `pattern`."""
    if pattern in ("*", domain):
        return True
    if pattern.startswith("*"):
        return domain.lstrip("*").endswith(pattern[1:]) and not domain.endswith("*")
    if pattern.endswith("*"):
        return domain.rstrip("*").startswith(pattern[:-1]) and not domain.startswith("*")
    return False


def _value_for(kind: str, value: str | None) -> None:
    if kind in ("present", "absent"):
        if value is not None:
            raise ValueError(f"a '{kind}' match takes no value")
    elif value is None:
        raise ValueError(f"an '{kind}' match needs a value")
    elif kind == "regex":
        check_re2(value)
    elif not value and kind != "exact":
        raise ValueError(f"a '{kind}' match needs a non-empty value")
