"""Prometheus metrics of the auth service (names `chaosgw_extauthz_*`), one `/metrics` per
process (see ratelimit/metrics.py for why). Labels name kinds, outcomes and reasons: never a
key, a key id or a route."""

from prometheus_client import Counter, Gauge

DECISIONS = Counter(
    "chaosgw_extauthz_decisions_total",
    "Checks decided, by credential kind, outcome (allowed, denied) and reason.",
    ["kind", "outcome", "reason"],
)
API_KEYS = Gauge("chaosgw_extauthz_api_keys", "Live API keys this process holds.")
ROUTE_POLICIES = Gauge("chaosgw_extauthz_route_policies", "Route policies this process holds.")
