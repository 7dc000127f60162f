"""A service's health checks, outlier detection and circuit breakers as Envoy cluster fields."""

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.type.v3 import http_pb2

from controlplane.model import CircuitBreakers, HealthCheck, OutlierDetection, ServiceSpec
from controlplane.translator.protos import duration_fields

_DEFAULT_HEALTH_PATH = "/healthz"
# Envoy's defaults, kept when a detector is switched off (its enforcement is then 0 %).
_DEFAULT_CONSECUTIVE = 5


def resilience_fields(service: ServiceSpec) -> dict[str, Any]:
    """`Cluster` constructor fields for what the service declares."""
    fields: dict[str, Any] = {}
    if service.health_check is not None:
        fields["health_checks"] = [_health_check(service.health_check, service.protocol)]
    if service.outlier_detection is not None:
        fields["outlier_detection"] = _outlier_detection(service.outlier_detection)
    if service.circuit_breakers is not None:
        fields["circuit_breakers"] = {"thresholds": [_thresholds(service.circuit_breakers)]}
    return fields


def _health_check(check: HealthCheck, protocol: str) -> dict[str, Any]:
    interval = duration_fields(check.interval_seconds)
    fields: dict[str, Any] = {
        "timeout": duration_fields(check.timeout_seconds),
        "interval": interval,
        # Envoy checks a cluster that never had traffic only once a minute by default; a
        # backup priority is exactly such a cluster part, and must be known healthy before use.
        "no_traffic_interval": interval,
        "healthy_threshold": {"value": check.healthy_threshold},
        "unhealthy_threshold": {"value": check.unhealthy_threshold},
    }
    if check.type == "http":
        http: dict[str, Any] = {
            "path": check.path or _DEFAULT_HEALTH_PATH,
            "expected_statuses": [
                {"start": status, "end": status + 1} for status in sorted(check.expected_statuses)
            ],
        }
        if protocol != "http1":
            http["codec_client_type"] = http_pb2.HTTP2
        fields["http_health_check"] = http
    elif check.type == "grpc":
        fields["grpc_health_check"] = {"service_name": check.grpc_service or ""}
    else:
        fields["tcp_health_check"] = {}
    return fields


def _outlier_detection(detection: OutlierDetection) -> dict[str, Any]:
    rate = detection.success_rate
    fields: dict[str, Any] = {
        "consecutive_5xx": {"value": detection.consecutive_5xx or _DEFAULT_CONSECUTIVE},
        "enforcing_consecutive_5xx": {"value": 100 if detection.consecutive_5xx else 0},
        "consecutive_gateway_failure": {
            "value": detection.consecutive_gateway_errors or _DEFAULT_CONSECUTIVE
        },
        "enforcing_consecutive_gateway_failure": {
            "value": 100 if detection.consecutive_gateway_errors else 0
        },
        "enforcing_success_rate": {"value": 100 if rate else 0},
        "interval": duration_fields(detection.interval_seconds),
        "base_ejection_time": duration_fields(detection.base_ejection_seconds),
        "max_ejection_percent": {"value": detection.max_ejection_percent},
    }
    if rate is not None:
        fields["success_rate_minimum_hosts"] = {"value": rate.minimum_hosts}
        fields["success_rate_request_volume"] = {"value": rate.request_volume}
        # Envoy takes the factor in thousandths.
        fields["success_rate_stdev_factor"] = {"value": round(rate.stdev_factor * 1000)}
    return fields


def _thresholds(breakers: CircuitBreakers) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "priority": base_pb2.RoutingPriority.DEFAULT,
        "max_connections": {"value": breakers.max_connections},
        "max_pending_requests": {"value": breakers.max_pending_requests},
        "max_requests": {"value": breakers.max_requests},
        "max_retries": {"value": breakers.max_retries},
    }
    budget = breakers.retry_budget
    if budget is not None:
        fields["retry_budget"] = {
            "budget_percent": {"value": budget.budget_percent},
            "min_retry_concurrency": {"value": budget.min_retry_concurrency},
        }
    return fields
