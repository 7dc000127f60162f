"""RateLimitResponse from a decision: a status per descriptor and the RateLimit-* headers.

Envoy's rate-limit filter adds `response_headers_to_add` to the client's response in both
cases: to the upstream's response when the request is admitted, to its own 429 when refused.
The headers describe the most restrictive enforced (non-shadow) descriptor: on 429 the one that
refuses longest, with `Retry-After`; otherwise the one with the fewest requests left.
"""

import math
from collections.abc import Sequence

from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from ratelimit.engine import Decision, Outcome

Response = rls_pb2.RateLimitResponse
Unit = rls_pb2.RateLimitResponse.RateLimit
_UNITS = {1: Unit.SECOND, 60: Unit.MINUTE, 3600: Unit.HOUR, 86_400: Unit.DAY}

# No descriptor at all: nothing to count, the same bytes every time.
EMPTY_OK: bytes = Response(overall_code=Response.OK).SerializeToString()


def build(decision: Decision) -> bytes:
    response = Response(overall_code=Response.OVER_LIMIT if decision.limited else Response.OK)
    for outcome in decision.outcomes:
        _status(response.statuses.add(), outcome)
    shown = _most_restrictive(decision)
    if shown is not None:
        assert shown.remaining is not None
        reset = shown.retry_after_seconds if decision.limited else shown.reset_seconds
        headers = [
            ("RateLimit-Limit", shown.ceiling),
            ("RateLimit-Remaining", 0 if decision.limited else shown.remaining),
            ("RateLimit-Reset", _seconds(reset)),
        ]
        if decision.limited:
            headers.append(("Retry-After", _seconds(shown.retry_after_seconds)))
        response.response_headers_to_add.extend(
            base_pb2.HeaderValue(key=key, value=str(value)) for key, value in headers
        )
    encoded: bytes = response.SerializeToString()
    return encoded


def _status(status: rls_pb2.RateLimitResponse.DescriptorStatus, outcome: Outcome) -> None:
    status.code = Response.OVER_LIMIT if outcome.limited else Response.OK
    policy = outcome.policy
    if policy is None:
        return
    limit = status.current_limit
    limit.name = policy.name
    limit.requests_per_unit = min(outcome.ceiling, 2**32 - 1)
    # Windows that are not one whole unit keep UNKNOWN; the name says which policy it is.
    limit.unit = _UNITS.get(policy.window_seconds, Unit.UNKNOWN)
    if outcome.remaining is not None:
        status.limit_remaining = min(outcome.remaining, 2**32 - 1)
    status.duration_until_reset.FromMilliseconds(math.ceil(outcome.reset_seconds * 1000))


def _most_restrictive(decision: Decision) -> Outcome | None:
    enforced: Sequence[Outcome] = [
        o
        for o in decision.outcomes
        if o.policy is not None and not o.policy.shadow and o.remaining is not None
    ]
    if decision.limited:
        refusing = [o for o in enforced if o.limited]
        return max(refusing, key=lambda o: o.retry_after_seconds, default=None)
    return min(enforced, key=lambda o: (o.remaining, -o.reset_seconds), default=None)


def _seconds(value: float) -> int:
    """Whole seconds, rounded up: a client that waits this long is not early."""
    return max(1, math.ceil(value))
