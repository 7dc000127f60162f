"""Prometheus metrics of the rate-limit service (names `chaosgw_ratelimit_*`, base units).

Labels name policies (declared by admins, few) and outcomes, never a descriptor value: a
player id or an IP in a label would make one time series per player.

Each process serves its own `/metrics` on its own port (`http_port + index`), and Prometheus
scrapes each as a target, as Envoy sends each process its own share of requests. Chosen over
prometheus_client's multiprocess mode, which needs a shared directory of mmapped files that
outlive crashed processes, and cannot aggregate histograms per process or keep gauges honest
without extra care; a per-process target also tells which process misbehaves.
"""

from prometheus_client import Counter, Gauge, Histogram

# Outcomes of one descriptor's decision.
ALLOWED = "allowed"
LIMITED = "limited"
# Answered from the process's memory: the key was over its limit and its window has not moved.
LIMITED_FROM_MEMORY = "limited_from_memory"
SHADOW_LIMITED = "shadow_limited"
# Redis failed: what the policy's on_redis_error decided.
REDIS_ERROR_ALLOWED = "redis_error_allowed"
REDIS_ERROR_DENIED = "redis_error_denied"
FALLBACK_ALLOWED = "fallback_allowed"
FALLBACK_LIMITED = "fallback_limited"

DECISIONS = Counter(
    "chaosgw_ratelimit_decisions_total",
    "Descriptors decided, by policy and outcome.",
    ["policy", "outcome"],
)
IGNORED_DESCRIPTORS = Counter(
    "chaosgw_ratelimit_ignored_descriptors_total",
    "Descriptors answered OK without counting: unknown policy or malformed, by reason.",
    ["reason"],
)
INVALID_REQUESTS = Counter(
    "chaosgw_ratelimit_invalid_requests_total",
    "Requests refused with INVALID_ARGUMENT (undecodable, or another domain).",
    ["reason"],
)
REDIS_LATENCY = Histogram(
    "chaosgw_ratelimit_redis_duration_seconds",
    "Time of one script call to Redis (one round trip), failures included.",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
)
REDIS_ERRORS = Counter(
    "chaosgw_ratelimit_redis_errors_total",
    "Script calls to Redis that failed, by kind (timeout, connection, other).",
    ["kind"],
)
POLICIES = Gauge("chaosgw_ratelimit_policies", "Policies this process holds.")

# The children of DECISIONS by (policy, outcome), looked up once: `labels()` takes a lock and
# builds a tuple on every call, and a decision counts one to three of them.
_DECISION_CHILDREN: dict[tuple[str, str], Counter] = {}


def count_decision(policy: str, outcome: str) -> None:
    child = _DECISION_CHILDREN.get((policy, outcome))
    if child is None:
        child = _DECISION_CHILDREN[policy, outcome] = DECISIONS.labels(
            policy=policy, outcome=outcome
        )
    child.inc()
