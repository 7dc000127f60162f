"""Services: the upstreams that routes send traffic to (Envoy clusters)."""

from typing import Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from controlplane.model.common import Hostname, IPAddress, Name, Port, Spec

Protocol = Literal["http1", "http2", "grpc"]
LoadBalancing = Literal["round_robin", "least_request", "random", "ring_hash", "maglev"]
Discovery = Literal["static", "dns"]

_IP = TypeAdapter[str](IPAddress)
_HOSTNAME = TypeAdapter[str](Hostname)


class Endpoint(Spec):
    host: str = Field(
        min_length=1,
        max_length=253,
        description="An IP address for static discovery, a hostname for DNS discovery.",
    )
    port: Port
    weight: int = Field(default=1, ge=1, le=1000, description="Share of traffic within a priority.")
    priority: int = Field(
        default=0,
        ge=0,
        le=10,
        description="0 is preferred; higher priorities take over on failure.",
    )


class Timeouts(Spec):
    connect_seconds: float = Field(default=5.0, gt=0, le=300)
    request_seconds: float = Field(
        default=15.0, ge=0, le=3600, description="Default route timeout; 0 disables it."
    )


class ServiceSpec(Spec):
    name: Name
    protocol: Protocol = "http1"
    discovery: Discovery = Field(
        default="static",
        description=(
            "static: endpoints are IP addresses sent over EDS; dns: hostnames Envoy resolves."
        ),
    )
    endpoints: list[Endpoint] = Field(min_length=1, max_length=1000)
    load_balancing: LoadBalancing = "round_robin"
    timeouts: Timeouts = Timeouts()

    @model_validator(mode="after")
    def _endpoints_fit_discovery(self) -> Self:
        seen: set[tuple[str, int]] = set()
        for index, endpoint in enumerate(self.endpoints):
            checker, expected = (
                (_IP, "an IP address (use discovery 'dns' for hostnames)")
                if self.discovery == "static"
                else (_HOSTNAME, "a hostname")
            )
            try:
                checker.validate_python(endpoint.host)
            except ValidationError:
                raise ValueError(
                    f"endpoints[{index}].host {endpoint.host!r} is not {expected}"
                ) from None
            key = (endpoint.host, endpoint.port)
            if key in seen:
                raise ValueError(
                    f"endpoints[{index}] {endpoint.host}:{endpoint.port} is listed twice"
                )
            seen.add(key)
        return self
