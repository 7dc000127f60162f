"""Keeping traffic off broken endpoints: active health checks, passive outlier detection, and
circuit breakers that cap what one service may be sent at once."""

from typing import Literal, Self

from pydantic import Field, model_validator

from controlplane.model.common import Spec


class HealthCheck(Spec):
    """Envoy probes every endpoint; an endpoint that fails is taken out until it passes again."""

    type: Literal["http", "grpc", "tcp"] = "http"
    path: str | None = Field(
        default=None,
        max_length=1024,
        # No spaces or control characters: Envoy refuses them in a probe's path.
        pattern=r"^/[^\s\x00-\x1f\x7f]*$",
        description="http: the path probed (default /healthz).",
    )
    expected_statuses: list[int] = Field(
        default_factory=list,
        max_length=32,
        description="http: statuses that count as healthy (default 200 only).",
    )
    grpc_service: str | None = Field(
        default=None,
        max_length=256,
        description="grpc: the service name sent in grpc.health.v1.Health/Check.",
    )
    interval_seconds: float = Field(default=5.0, ge=0.01, le=3600)
    timeout_seconds: float = Field(default=1.0, ge=0.01, le=600)
    healthy_threshold: int = Field(
        default=1, ge=1, le=100, description="Passed checks in a row to be healthy again."
    )
    unhealthy_threshold: int = Field(
        default=2, ge=1, le=100, description="Failed checks in a row to be taken out."
    )

    @model_validator(mode="after")
    def _fields_fit_type(self) -> Self:
        if self.type != "http" and (self.path is not None or self.expected_statuses):
            raise ValueError("path and expected_statuses apply to http health checks only")
        if self.type != "grpc" and self.grpc_service is not None:
            raise ValueError("grpc_service applies to grpc health checks only")
        for status in self.expected_statuses:
            if not 100 <= status <= 599:
                raise ValueError(f"expected_statuses: {status} is not an HTTP status (100-599)")
        if len(set(self.expected_statuses)) != len(self.expected_statuses):
            raise ValueError("expected_statuses lists a status twice")
        return self


class SuccessRate(Spec):
    """Eject endpoints whose success rate falls far below the others'."""

    minimum_hosts: int = Field(default=5, ge=1, le=1000)
    request_volume: int = Field(
        default=100, ge=1, le=1_000_000, description="Requests an endpoint needs in an interval."
    )
    stdev_factor: float = Field(
        default=1.9, gt=0, le=100, description="Ejected below mean - factor x stdev."
    )


class OutlierDetection(Spec):
    """Passive checks: endpoints that fail real requests are ejected for a while."""

    consecutive_5xx: int | None = Field(
        default=5, ge=1, le=1000, description="5xx answers (or connect errors) in a row; null: off."
    )
    consecutive_gateway_errors: int | None = Field(
        default=None, ge=1, le=1000, description="502, 503, 504 or connect errors in a row."
    )
    success_rate: SuccessRate | None = None
    interval_seconds: float = Field(default=10.0, ge=0.01, le=3600)
    base_ejection_seconds: float = Field(
        default=30.0, ge=0.01, le=3600, description="Multiplied by the times already ejected."
    )
    max_ejection_percent: int = Field(
        default=10, ge=0, le=100, description="At least one endpoint can always be ejected."
    )


class RetryBudget(Spec):
    """Retries allowed as a share of the requests in flight, instead of a fixed count."""

    budget_percent: float = Field(default=20.0, gt=0, le=100)
    min_retry_concurrency: int = Field(default=3, ge=1, le=100_000)


class CircuitBreakers(Spec):
    """What one Envoy sends this service at most at once; beyond it, 503 at once."""

    max_connections: int = Field(default=1024, ge=1, le=1_000_000)
    max_pending_requests: int = Field(default=1024, ge=1, le=1_000_000)
    max_requests: int = Field(default=1024, ge=1, le=1_000_000)
    max_retries: int = Field(default=3, ge=1, le=1_000_000)
    retry_budget: RetryBudget | None = Field(
        default=None, description="Replaces max_retries with a share of active requests."
    )
