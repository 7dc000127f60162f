"""Services: the upstreams that routes send traffic to (Envoy clusters)."""

from typing import Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from controlplane.model.balancing import HashKey, LoadBalancing, Maglev, RingHash, check_fits_policy
from controlplane.model.common import (
    MIN_SECONDS,
    Hostname,
    IPAddress,
    Name,
    Port,
    Spec,
    TimeoutSeconds,
)
from controlplane.model.health import CircuitBreakers, HealthCheck, OutlierDetection
from controlplane.model.retries import Retries
from controlplane.model.tls import UpstreamTls

Protocol = Literal["http1", "http2", "grpc"]
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
    connect_seconds: float = Field(default=5.0, ge=MIN_SECONDS, le=300)
    request_seconds: TimeoutSeconds = Field(
        default=15.0, ge=0, le=3600, description="Default route timeout; 0 disables it."
    )
    idle_seconds: float | None = Field(
        default=None,
        ge=MIN_SECONDS,
        le=86400,
        description="Default route idle timeout: a request or stream silent this long ends. "
        "Null: the listener's stream idle timeout.",
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
    hash_on: list[HashKey] = Field(
        default_factory=list,
        max_length=8,
        description="ring_hash and maglev: what a request's hash is computed from, in order "
        "(header, cookie, source_ip); without any, requests spread at random.",
    )
    ring_hash: RingHash | None = None
    maglev: Maglev | None = None
    panic_threshold_percent: float = Field(
        default=50.0,
        ge=0,
        le=100,
        description="Below this share of healthy endpoints (all priorities together) Envoy "
        "stops trusting health and spreads over every endpoint; 0 never panics.",
    )
    health_check: HealthCheck | None = None
    outlier_detection: OutlierDetection | None = None
    circuit_breakers: CircuitBreakers | None = None
    timeouts: Timeouts = Timeouts()
    retries: Retries | None = Field(
        default=None, description="Default retries of the routes to this service."
    )
    tls: UpstreamTls | None = Field(default=None, description="Connect to the endpoints with TLS.")

    @model_validator(mode="after")
    def _options_fit(self) -> Self:
        check_fits_policy(self.load_balancing, self.hash_on, self.ring_hash, self.maglev)
        if (
            self.health_check is not None
            and self.health_check.type == "grpc"
            and self.protocol == "http1"
        ):
            raise ValueError("a grpc health check needs protocol http2 or grpc")
        return self

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
