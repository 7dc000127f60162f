"""Prometheus metrics of the control plane (names `chaosgw_*`, base units).

A plain module of metric objects on the default registry, which `/metrics` serves.
"""

from prometheus_client import Counter, Histogram

ADMIN_REQUESTS = Counter(
    "chaosgw_admin_requests_total",
    "Admin API requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
ADMIN_REQUEST_DURATION = Histogram(
    "chaosgw_admin_request_duration_seconds",
    "Time to answer an admin API request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
