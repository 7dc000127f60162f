"""Routes: which requests go where. Compiled into Envoy route configurations served over RDS."""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from controlplane.model.auth_route import PublicAuth, RouteAuth
from controlplane.model.common import Name, Spec
from controlplane.model.regex import check_re2
from controlplane.model.retries import Retries

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


class PathMatch(Spec):
    type: Literal["exact", "prefix", "regex"] = "prefix"
    value: str = Field(min_length=1, max_length=2048, examples=["/inventory"])

    @model_validator(mode="after")
    def _valid_for_type(self) -> Self:
        if self.type == "regex":
            check_re2(self.value)
        elif not self.value.startswith("/"):
            raise ValueError(f"a {self.type} path must start with '/'")
        return self


class HeaderMatch(Spec):
    name: HeaderName
    type: Literal["exact", "regex", "present"] = "exact"
    value: str | None = Field(default=None, max_length=4096)
    invert: bool = Field(default=False, description="Match requests where this does not hold.")

    @model_validator(mode="after")
    def _value_fits_type(self) -> Self:
        _value_for(self.type, self.value)
        return self


class QueryParamMatch(Spec):
    name: str = Field(min_length=1, max_length=256)
    type: Literal["exact", "regex", "present"] = "exact"
    value: str | None = Field(default=None, max_length=4096)

    @model_validator(mode="after")
    def _value_fits_type(self) -> Self:
        _value_for(self.type, self.value)
        return self


class RouteMatch(Spec):
    path: PathMatch = PathMatch(type="prefix", value="/")
    methods: list[HttpMethod] = Field(default_factory=list, max_length=9)
    headers: list[HeaderMatch] = Field(default_factory=list, max_length=32)
    query_params: list[QueryParamMatch] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _no_duplicate_methods(self) -> Self:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods lists a method twice")
        return self


class Backend(Spec):
    service: Name
    weight: int = Field(default=1, ge=1, le=10000, description="Relative share of requests.")


class ForwardAction(Spec):
    """Send the request upstream: to one service, or split by weight (canary, A/B)."""

    type: Literal["forward"] = "forward"
    backends: list[Backend] = Field(min_length=1, max_length=32)

    @model_validator(mode="after")
    def _distinct_services(self) -> Self:
        names = [backend.service for backend in self.backends]
        if len(set(names)) != len(names):
            raise ValueError("backends name the same service twice")
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
    action: ForwardAction
    timeout_seconds: float | None = Field(
        default=None, ge=0, le=3600, description="Overrides the service's request timeout."
    )
    idle_timeout_seconds: float | None = Field(
        default=None, gt=0, le=86400, description="Overrides the service's idle timeout."
    )
    retries: Retries | None = Field(default=None, description="Overrides the service's retries.")
    auth: RouteAuth = Field(
        default_factory=PublicAuth, discriminator="type", description="Who may call the route."
    )

    @model_validator(mode="after")
    def _distinct_hosts(self) -> Self:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("hosts lists a host twice")
        return self

    def services(self) -> set[str]:
        """Every service this route sends traffic to."""
        return {backend.service for backend in self.action.backends}


def _value_for(kind: str, value: str | None) -> None:
    if kind == "present":
        if value is not None:
            raise ValueError("a 'present' match takes no value")
    elif value is None:
        raise ValueError(f"an '{kind}' match needs a value")
    elif kind == "regex":
        check_re2(value)
