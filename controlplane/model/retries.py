"""Retries: which failures are tried again, how often, how soon, and where.

A service declares the default of the routes that send traffic to it; a route may override it.
"""

from typing import Literal, Self

from pydantic import Field, model_validator

from controlplane.model.common import MIN_SECONDS, Spec

# Envoy's retry conditions, HTTP (x-envoy-retry-on) and gRPC (x-envoy-retry-grpc-on) alike.
RetryCondition = Literal[
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
]

_DEFAULT_CONDITIONS: tuple[RetryCondition, ...] = ("connect-failure", "reset", "gateway-error")


class Retries(Spec):
    max_attempts: int = Field(
        default=2, ge=1, le=10, description="Tries in all, the first one included; 1: no retry."
    )
    on: list[RetryCondition] = Field(
        default_factory=lambda: list(_DEFAULT_CONDITIONS),
        min_length=1,
        max_length=12,
        examples=[["5xx", "reset"]],
    )
    retriable_status_codes: list[int] = Field(
        default_factory=list,
        max_length=32,
        description="With condition retriable-status-codes: the statuses to retry.",
    )
    per_try_timeout_seconds: float | None = Field(
        default=None,
        ge=MIN_SECONDS,
        le=3600,
        description="Each try's own deadline; null: the route's.",
    )
    backoff_base_seconds: float = Field(default=0.025, ge=MIN_SECONDS, le=60)
    backoff_max_seconds: float | None = Field(
        default=None, ge=MIN_SECONDS, le=600, description="Default: 10 x the base."
    )
    avoid_previous_hosts: bool = Field(
        default=True, description="A retry goes to an endpoint not tried yet, if there is one."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.on)) != len(self.on):
            raise ValueError("on lists a condition twice")
        wants_codes = "retriable-status-codes" in self.on
        if wants_codes != bool(self.retriable_status_codes):
            raise ValueError(
                "retriable_status_codes and the condition 'retriable-status-codes' go together"
            )
        for status in self.retriable_status_codes:
            if not 100 <= status <= 599:
                raise ValueError(f"retriable_status_codes: {status} is not an HTTP status")
        if self.backoff_max_seconds is not None and self.backoff_max_seconds < (
            self.backoff_base_seconds
        ):
            raise ValueError("backoff_max_seconds must not be below backoff_base_seconds")
        return self
