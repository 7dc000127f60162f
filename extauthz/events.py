"""Auth events: the gateway's auth denials, from every Envoy, counted by reason and watched for
one source failing again and again.

Every listener streams the requests the gateway itself refused for auth to this sink
(`envoy.service.accesslog.v3.AccessLogService`, served by each auth process next to its
Authorization service; see controlplane/translator/auth_events.py). Envoy filters them: only
`jwt_authn`, `rbac` and `ext_authz` denials arrive, never an allowed request, so nothing here is
on a request's path: Envoy sends the entries in batches after the responses went out.

Per entry the sink reads the client address, the route name and Envoy's response code details,
nothing else (never a path, a header or an id; Envoy is told to send no header at all):

- `chaosgw_auth_denials_total{source="envoy", reason}`: `reason` is the normalized details
  (`jwt_authn_access_denied{Jwt_is_expired}` -> `jwt_expired`), a bounded set (REASONS);
  anything else is `other`.
- `RepeatedFailures`: denials per client address in a sliding window. When an address reaches
  the threshold, one JSON log line `security event: repeated auth failures` (address, count,
  window, reasons, routes) and `chaosgw_auth_security_events_total`, then nothing more for that
  address until the window has passed. Both paths count here: Envoy's own denials and the
  service's (`ext_authz_denied`), so there is one detector. A failing or slow auth service
  (`ext_authz_error`) is counted by reason but is not the caller's failure: it never makes an
  event (an outage would otherwise flag every client).

Each process counts on its own, from the streams Envoy opened to it; no Redis round trip per
denial. That is deliberate: the detector raises a signal, it enforces nothing (blocking is the
client IP lists' and the rate limiter's job), so a miss costs a log line, not a breach. An Envoy
worker thread keeps one stream to one process, and a client's connection stays on one worker,
so a client hammering over a connection or a few is seen by one process and detected at the
threshold. A source spreading its attempts over many connections, workers or Envoys is split
over up to P processes and is detected once one process sees the threshold: in the worst case
after P x threshold denials. Operators who want a tighter bound lower the threshold by P.
"""

import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from envoy.data.accesslog.v3 import accesslog_pb2
from envoy.service.accesslog.v3 import als_pb2
from google.protobuf.message import DecodeError
from prometheus_client import Counter as PromCounter

from authcontract import denials

log = logging.getLogger(__name__)

_SERVICE = "envoy.service.accesslog.v3.AccessLogService"
SOURCE_ENVOY = "envoy"
SECURITY_EVENT = "security event: repeated auth failures"

DENIALS = PromCounter(
    "chaosgw_auth_denials_total",
    "Auth denials the gateway made, by where they were seen and normalized reason.",
    ["source", "reason"],
)
SECURITY_EVENTS = PromCounter(
    "chaosgw_auth_security_events_total",
    "Security events: a client address reached the repeated auth failures threshold.",
)
RECEIVED = PromCounter(
    "chaosgw_auth_events_received_total",
    "Access log entries received from Envoys (auth denials only, as Envoy filters them).",
)
UNDECODABLE = PromCounter(
    "chaosgw_auth_events_undecodable_total", "Access log messages that did not decode."
)

_JWT_PREFIX = denials.JWT_DENIED + "{"
_JWT_STATUSES = {
    denials.JWT_MISSING: "jwt_missing",
    denials.JWT_IS_EXPIRED: "jwt_expired",
    denials.JWT_IS_NOT_YET_VALID: "jwt_not_yet_valid",
    denials.JWT_VERIFICATION_FAILS: "jwt_bad_signature",
    denials.JWT_UNKNOWN_ISSUER: "jwt_unknown_issuer",
    denials.JWT_BAD_AUDIENCE: "jwt_bad_audience",
    denials.JWT_NO_KEY: "jwt_unknown_key",
    denials.JWT_MULTIPLE: "jwt_multiple_tokens",
}
# Statuses by prefix: a token that does not even parse, or keys Envoy could not get.
_JWT_STATUS_PREFIXES = (
    ("Jwt_is_not_in_the_form", "jwt_malformed"),
    ("Jwt_header", "jwt_malformed"),
    ("Jwt_payload", "jwt_malformed"),
    ("Jwt_signature", "jwt_malformed"),
    ("Jwks", "jwks_unavailable"),
)
_OTHER_JWT = "jwt_other"
RBAC_DENIED = "rbac_denied"
EXT_AUTHZ_DENIED = "ext_authz_denied"
EXT_AUTHZ_ERROR = "ext_authz_error"
OTHER = "other"
REASONS = frozenset(
    {
        *_JWT_STATUSES.values(),
        *(reason for _, reason in _JWT_STATUS_PREFIXES),
        _OTHER_JWT,
        RBAC_DENIED,
        EXT_AUTHZ_DENIED,
        EXT_AUTHZ_ERROR,
        OTHER,
    }
)
# Not the caller's failure: counted, never a security event.
NOT_THE_CALLERS = frozenset({EXT_AUTHZ_ERROR})


def reason_of(details: str) -> str:
    """The bounded reason code of Envoy's response code details."""
    if details.startswith(_JWT_PREFIX) and details.endswith("}"):
        status = details[len(_JWT_PREFIX) : -1]
        if status in _JWT_STATUSES:
            return _JWT_STATUSES[status]
        for prefix, reason in _JWT_STATUS_PREFIXES:
            if status.startswith(prefix):
                return reason
        return _OTHER_JWT
    if details.startswith(denials.RBAC_DENIED):
        return RBAC_DENIED
    if details == EXT_AUTHZ_DENIED:
        return EXT_AUTHZ_DENIED
    if details == EXT_AUTHZ_ERROR:
        return EXT_AUTHZ_ERROR
    return OTHER


@dataclass(frozen=True)
class SecurityEvent:
    source: str
    failures: int
    window_seconds: float
    reasons: dict[str, int]
    routes: tuple[str, ...]


@dataclass
class _Source:
    # The last `threshold` denials (time, reason, route): the threshold is reached when the
    # oldest of them is still inside the window. Memory per source: at most `threshold`.
    denials: deque[tuple[float, str, str]]
    quiet_until: float = float("-inf")


class RepeatedFailures:
    """Denials per source in a sliding window; a `SecurityEvent` when one source reaches
    `threshold` within `window_seconds`, at most once per window per source. At most
    `max_sources` sources are followed: the least recently denied one is forgotten first (so
    memory is bounded whatever the number of addresses; a forgotten source starts again at 0).
    `clock`: monotonic seconds (injected in tests)."""

    def __init__(
        self,
        threshold: int,
        window_seconds: float,
        max_sources: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.window = window_seconds
        self.max_sources = max_sources
        self._clock = clock
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sources)

    def record(self, source: str, reason: str, route: str) -> SecurityEvent | None:
        now = self._clock()
        followed = self._sources.get(source)
        if followed is None:
            followed = _Source(deque(maxlen=self.threshold))
            self._sources[source] = followed
            if len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        denials = followed.denials
        denials.append((now, reason, route))
        if len(denials) < self.threshold or now < followed.quiet_until:
            return None
        if denials[0][0] <= now - self.window:
            return None
        followed.quiet_until = now + self.window
        return SecurityEvent(
            source=source,
            failures=len(denials),
            window_seconds=self.window,
            reasons=dict(Counter(reason for _, reason, _ in denials)),
            routes=tuple(sorted({route for _, _, route in denials if route})),
        )


class AccessLogSink:
    """Envoy's access log streams in; metrics and security events out."""

    def __init__(self, detector: RepeatedFailures) -> None:
        self._detector = detector
        self._denials = {
            reason: DENIALS.labels(source=SOURCE_ENVOY, reason=reason) for reason in REASONS
        }

    def take(self, entry: accesslog_pb2.HTTPAccessLogEntry) -> None:
        """One denial. Reads the client address, the route and the details: nothing else."""
        RECEIVED.inc()
        common = entry.common_properties
        reason = reason_of(entry.response.response_code_details)
        self._denials[reason].inc()
        source = common.downstream_remote_address.socket_address.address
        if not source or reason in NOT_THE_CALLERS:
            return
        event = self._detector.record(source, reason, common.route_name)
        if event is not None:
            SECURITY_EVENTS.inc()
            log.warning(
                SECURITY_EVENT,
                extra={
                    "event": "repeated_auth_failures",
                    "source_ip": event.source,
                    "failures": event.failures,
                    "window_seconds": event.window_seconds,
                    "reasons": event.reasons,
                    "routes": list(event.routes),
                },
            )

    def take_message(self, message: als_pb2.StreamAccessLogsMessage) -> None:
        for entry in message.http_logs.log_entry:
            self.take(entry)

    async def stream(
        self, messages: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        async for raw in messages:
            message = als_pb2.StreamAccessLogsMessage()
            try:
                message.ParseFromString(raw)
            except DecodeError:
                UNDECODABLE.inc()
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not an access log message")
            self.take_message(message)
        return b""  # StreamAccessLogsResponse: empty


def add_to_server(sink: AccessLogSink, server: grpc.aio.Server) -> None:
    handler = grpc.stream_unary_rpc_method_handler(sink.stream)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, {"StreamAccessLogs": handler}),)
    )
