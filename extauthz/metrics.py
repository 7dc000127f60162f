"""Prometheus metrics of the auth service (names `chaosgw_extauthz_*`), one `/metrics` per
process (see ratelimit/metrics.py for why). Labels name kinds, outcomes and reasons: never a
key, a key id or a route."""

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "chaosgw_extauthz_decisions_total",
    "Checks decided, by credential kind, outcome (allowed, denied) and reason.",
    ["kind", "outcome", "reason"],
)
API_KEYS = Gauge("chaosgw_extauthz_api_keys", "Live API keys this process holds.")
ROUTE_POLICIES = Gauge("chaosgw_extauthz_route_policies", "Route policies this process holds.")
INTROSPECTORS = Gauge(
    "chaosgw_extauthz_introspectors", "OAuth 2.0 introspectors this process holds."
)
INTROSPECTION_CALLS = Counter(
    "chaosgw_extauthz_introspection_calls_total",
    "Calls to introspection endpoints, by outcome (active, inactive, error).",
    ["outcome"],
)
INTROSPECTION_SECONDS = Histogram(
    "chaosgw_extauthz_introspection_seconds",
    "How long calls to introspection endpoints took, failed ones included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
INTROSPECTION_CACHE = Counter(
    "chaosgw_extauthz_introspection_cache_total",
    "Token lookups in the introspection cache, by result: hit, miss (a call is made), shared "
    "(joined a call under way for the same token).",
    ["result"],
)
