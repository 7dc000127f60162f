"""Auth events: reasons from Envoy's response code details, the repeated-failure detector (time
injected), and the sink's metrics and its one log line."""

import json
import logging

import pytest
from envoy.data.accesslog.v3 import accesslog_pb2
from prometheus_client import REGISTRY

from controlplane.logging import JsonFormatter
from extauthz import events
from extauthz.events import AccessLogSink, RepeatedFailures, reason_of


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        ("jwt_authn_access_denied{Jwt_is_expired}", "jwt_expired"),
        ("jwt_authn_access_denied{Jwt_is_missing}", "jwt_missing"),
        ("jwt_authn_access_denied{Jwt_not_yet_valid}", "jwt_not_yet_valid"),
        ("jwt_authn_access_denied{Jwt_verification_fails}", "jwt_bad_signature"),
        ("jwt_authn_access_denied{Jwt_issuer_is_not_configured}", "jwt_unknown_issuer"),
        ("jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}", "jwt_bad_audience"),
        (
            "jwt_authn_access_denied{Jwks_doesn't_have_key_to_match_kid_or_alg_from_Jwt}",
            "jwt_unknown_key",
        ),
        ("jwt_authn_access_denied{Jwt_header_is_an_invalid_JSON}", "jwt_malformed"),
        ("jwt_authn_access_denied{Jwt_is_not_in_the_form_of_Header.Payload}", "jwt_malformed"),
        ("jwt_authn_access_denied{Jwks_remote_fetch_is_failed}", "jwks_unavailable"),
        ("jwt_authn_access_denied{Something_new}", "jwt_other"),
        ("jwt_authn_access_denied", "other"),
        ("rbac_access_denied_matched_policy[none]", "rbac_denied"),
        ("rbac_access_denied_matched_policy[deny-admins]", "rbac_denied"),
        ("ext_authz_denied", "ext_authz_denied"),
        ("ext_authz_error", "ext_authz_error"),
        ("via_upstream", "other"),
        ("", "other"),
        ("203.0.113.7 eyJhbGciOi", "other"),
    ],
)
def test_reasons_are_a_bounded_set_of_codes(details: str, reason: str) -> None:
    assert reason_of(details) == reason
    assert reason in events.REASONS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def detector(
    threshold: int = 5, window: float = 60.0, sources: int = 100
) -> tuple[RepeatedFailures, Clock]:
    clock = Clock()
    return RepeatedFailures(threshold, window, sources, clock=clock), clock


def test_an_event_when_a_source_reaches_the_threshold_within_the_window() -> None:
    failures, clock = detector(threshold=5)
    seen = []
    for n in range(5):
        clock.now += 1.0
        seen.append(failures.record("203.0.113.7", "jwt_expired", f"route-{n % 2}"))

    assert seen[:4] == [None] * 4
    event = seen[4]
    assert event is not None
    assert event.source == "203.0.113.7"
    assert event.failures == 5
    assert event.window_seconds == 60.0
    assert event.reasons == {"jwt_expired": 5}
    assert event.routes == ("route-0", "route-1")


def test_once_per_window_per_source_then_again() -> None:
    failures, clock = detector(threshold=3, window=10.0)
    events_at = []
    for _ in range(40):  # one denial a second for 40 s
        clock.now += 1.0
        if failures.record("198.51.100.1", "ext_authz_denied", "orders"):
            events_at.append(clock.now)

    # First at the third denial, then no sooner than a window after each event.
    assert events_at == [1003.0, 1013.0, 1023.0, 1033.0]


def test_denials_spread_wider_than_the_window_make_no_event() -> None:
    failures, clock = detector(threshold=3, window=10.0)
    for _ in range(20):
        clock.now += 5.0  # two denials in any 10 s, never three
        assert failures.record("198.51.100.1", "jwt_expired", "r") is None


def test_sources_are_counted_apart() -> None:
    failures, _ = detector(threshold=3)
    results = [
        failures.record(source, "rbac_denied", "r")
        for source in ("10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2", "10.0.0.3")
    ]
    assert results == [None] * 5
    event = failures.record("10.0.0.2", "jwt_bad_signature", "r")
    assert event is not None
    assert event.source == "10.0.0.2"
    assert event.reasons == {"rbac_denied": 2, "jwt_bad_signature": 1}


def test_memory_is_bounded_least_recently_denied_forgotten_first() -> None:
    failures, _ = detector(threshold=2, sources=3)
    failures.record("10.0.0.1", "jwt_expired", "r")
    for n in range(2, 100):
        failures.record(f"10.0.0.{n}", "jwt_expired", "r")
    assert len(failures) == 3
    # 10.0.0.1 was forgotten: its next denial counts from one again.
    assert failures.record("10.0.0.1", "jwt_expired", "r") is None
    assert failures.record("10.0.0.1", "jwt_expired", "r") is not None


def _entry(source: str, details: str, route: str = "orders") -> accesslog_pb2.HTTPAccessLogEntry:
    entry = accesslog_pb2.HTTPAccessLogEntry()
    entry.common_properties.downstream_remote_address.socket_address.address = source
    entry.common_properties.route_name = route
    entry.response.response_code.value = 401
    entry.response.response_code_details = details
    entry.request.path = "/orders?access_token=SECRET-TOKEN"
    entry.request.request_id = "req-1"
    return entry


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_sink_counts_by_reason_and_logs_one_event_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures, _ = detector(threshold=3)
    sink = AccessLogSink(failures)
    expired = ("chaosgw_auth_denials_total", {"source": "envoy", "reason": "jwt_expired"})
    before = _sample(expired[0], **expired[1])
    received = _sample("chaosgw_auth_events_received_total")
    security = _sample("chaosgw_auth_security_events_total")

    with caplog.at_level(logging.INFO, logger="extauthz.events"):
        for _ in range(6):
            sink.take(_entry("192.0.2.9", "jwt_authn_access_denied{Jwt_is_expired}"))
        # A failing auth service is not the caller's failure: no event however many.
        for _ in range(6):
            sink.take(_entry("192.0.2.10", "ext_authz_error"))

    assert _sample(expired[0], **expired[1]) == before + 6
    assert _sample("chaosgw_auth_events_received_total") == received + 12
    assert _sample("chaosgw_auth_security_events_total") == security + 1
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["msg"] == "security event: repeated auth failures"
    assert line["level"] == "warning"
    assert line["source_ip"] == "192.0.2.9"
    assert line["failures"] == 3
    assert line["window_seconds"] == 60.0
    assert line["reasons"] == {"jwt_expired": 3}
    assert line["routes"] == ["orders"]
    assert "SECRET-TOKEN" not in lines[0]
    assert "req-1" not in lines[0]
