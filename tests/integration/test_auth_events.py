"""Auth events end to end: the real Envoy streams its auth denials (jwt_authn, rbac, ext_authz)
to the real `extauthz` processes' access log sink, which counts them by reason on /metrics and
logs one security event when one source keeps failing.

Each test sends from its own loopback address (127.0.0.x) over one connection: its own source
for the detector, and one Envoy worker, so one access log stream to one process, in order.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.auth_gateway import AuthGateway, OnAuthGateway, auth_gateway
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import (
    LOCALHOST,
    AdminClient,
    wait_for_response,
    wait_until,
)
from tests.support.jwt_issuer import SigningKey, claims_for

pytestmark = pytest.mark.integration

PROCESSES = 2
THRESHOLD = 8
ISSUER = "https://id.events.example"
AUDIENCE = "chaos-world"
EVENT = "security event: repeated auth failures"
# Envoy's counters of the denials its auth filters made (listener stat prefix `public`).
_ENVOY_DENIALS = r"^http\.public\.(jwt_authn\.denied|rbac\.denied|ext_authz\.(denied|error))$"


@dataclass
class Events(OnAuthGateway):
    auth: AuthGateway
    key: SigningKey

    def client(self, source: str) -> httpx.Client:
        """A client whose requests come from `source` (a loopback address), one connection."""
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(transport=transport, timeout=5.0)

    def token(self, subject: str = "p-1", roles: tuple[str, ...] = ("player",), **kw: Any) -> str:
        lifetime = kw.pop("lifetime", 600)
        claims = claims_for(ISSUER, AUDIENCE, subject, lifetime=lifetime, roles=list(roles), **kw)
        return self.key.sign(claims)

    def new_key(self, name: str) -> str:
        return self.auth.new_key(name)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every chaosgw_auth_* sample, summed over the processes."""
        total: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for n in range(PROCESSES):
            text = httpx.get(
                f"http://{LOCALHOST}:{self.auth.http_port + n}/metrics", timeout=2.0
            ).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name.startswith("chaosgw_auth_") and sample.name.endswith("_total"):
                        name = (sample.name, tuple(sorted(sample.labels.items())))
                        total[name] = total.get(name, 0.0) + sample.value
        return total

    def received(self) -> float:
        return self.metrics().get(("chaosgw_auth_events_received_total", ()), 0.0)

    def denials(self) -> dict[str, float]:
        return {
            dict(labels)["reason"]: value
            for (name, labels), value in self.metrics().items()
            if name == "chaosgw_auth_denials_total" and dict(labels)["source"] == "envoy"
        }

    def event_lines(self, source: str) -> list[dict[str, Any]]:
        lines = []
        for line in self.extauthz.log_path.read_text(errors="replace").splitlines():
            if EVENT in line:
                record = json.loads(line)
                if record.get("source_ip") == source:
                    lines.append(record)
        return lines

    def envoy_denials(self) -> int:
        """Envoy's own counts of the denials its filters made: what the sink should receive."""
        return sum(self.envoy.stats(_ENVOY_DENIALS).values())

    def settle(self) -> float:
        """Wait until the sink has received every denial Envoy made; returns the count."""
        wait_until(
            lambda: self.received() == self.envoy_denials(),
            timeout=10.0,
            description="the sink to receive every denial Envoy counted",
            alive=[self.extauthz, self.envoy.process],
        )
        return self.received()

    def warm_up(self, path: str, headers: dict[str, str]) -> None:
        """Until `path` admits (a key just made reaches the service), from 127.0.0.1."""
        with httpx.Client(timeout=5.0) as client:
            wait_for_response(client, self.url(path), headers=headers)

    def wait_received(self, expected: float, what: str) -> None:
        wait_until(
            lambda: self.received() >= expected,
            timeout=10.0,
            description=what,
            alive=[self.extauthz, self.envoy.process],
        )
        assert self.received() == expected


def _declare(admin: AdminClient, key: SigningKey) -> None:
    admin.create("roles", {"name": "player", "permissions": ["play"]})
    admin.create("roles", {"name": "admin", "permissions": ["administer"]})
    admin.create(
        "jwt-providers",
        {
            "name": "idp",
            "issuer": ISSUER,
            "audiences": [AUDIENCE],
            "algorithms": ["RS256"],
            "jwks": {"type": "inline", "document": {"keys": [key.jwk()]}},
        },
    )
    jwt = {"type": "authenticated", "credentials": [{"kind": "jwt", "providers": ["idp"]}]}
    api_key = {"type": "authenticated", "credentials": [{"kind": "api_key"}]}
    admin.create("routes", _route("ev-jwt", "/ev/jwt", "events-ok", jwt))
    admin.create(
        "routes",
        _route("ev-admin", "/ev/admin", "events-ok", jwt, permissions_any_of=["administer"]),
    )
    admin.create("routes", _route("ev-key", "/ev/key", "events-ok", api_key))
    admin.create("routes", _route("ev-public", "/ev/public", "events-ok", None))
    admin.create("routes", _route("ev-upstream-401", "/ev/upstream", "events-401", None))


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Events]:
    key = SigningKey("k1")
    with auth_gateway(
        tmp_path_factory.mktemp("auth-events"),
        processes=PROCESSES,
        service_env={
            "CHAOSGW_EXTAUTHZ_SECURITY_EVENT_THRESHOLD": str(THRESHOLD),
            "CHAOSGW_EXTAUTHZ_SECURITY_EVENT_WINDOW_SECONDS": "120",
        },
        declare=lambda admin: _declare(admin, key),
        upstreams=["events-ok", "events-401"],
    ) as auth:
        # The upstream itself answers 401 from now on: not the gateway's denial.
        refusing = auth.upstreams["events-401"]
        httpx.put(f"{refusing.url}/_upstream", json={"status": 401}).raise_for_status()
        yield Events(auth, key)


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, events: Events) -> None:
    request.node.stash[_PROCESSES] = events.plane.processes


def _route(
    name: str, prefix: str, service: str, auth: dict[str, Any] | None, **terms: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "listener": "public",
        "match": {"path": {"type": "prefix", "value": prefix}},
        "action": {"type": "forward", "backends": [{"service": service}]},
    }
    if auth is not None:
        spec["auth"] = {**auth, **terms}
    return spec


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_allowed_requests_and_upstream_401s_send_nothing_to_the_sink(events: Events) -> None:
    source = "127.0.0.2"
    key = events.new_key("events-allowed")
    token = events.token()
    events.warm_up("/ev/key", {"x-api-key": key})
    events.warm_up("/ev/jwt", _bearer(token))
    before = events.settle()
    with events.client(source) as client:
        for _ in range(5):
            assert client.get(events.url("/ev/jwt"), headers=_bearer(token)).status_code == 200
            assert client.get(events.url("/ev/key"), headers={"x-api-key": key}).status_code == 200
            assert client.get(events.url("/ev/public")).status_code == 200
            assert client.get(events.url("/ev/upstream")).status_code == 401
            assert client.get(events.url("/nowhere")).status_code == 404
        # One denial behind them on the same connection (one worker, one stream, in order):
        # once it has arrived, anything sent before it has too.
        assert client.get(events.url("/ev/jwt")).status_code == 401
    events.wait_received(before + 1, "the one denial to reach the sink")
    assert events.envoy_denials() == before + 1


def test_denials_are_counted_by_reason_and_one_source_makes_one_security_event(
    events: Events,
) -> None:
    source = "127.0.0.3"
    key = events.new_key("events-valid")
    valid = events.token("p-3")
    expired = events.token("p-3", lifetime=-3600)
    other_key = SigningKey("k1").sign(claims_for(ISSUER, AUDIENCE, "p-3", roles=["admin"]))
    unknown_kid = SigningKey("k-unknown").sign(claims_for(ISSUER, AUDIENCE, "p-3"))
    wrong_issuer = events.key.sign(claims_for("https://evil.example", AUDIENCE, "p-3"))
    wrong_key = key[:-2] + ("xx" if not key.endswith("xx") else "yy")
    # What one client tries, in turn, and the reason each denial is counted under.
    attempts: list[tuple[str, dict[str, str], str]] = [
        ("/ev/jwt", _bearer(expired), "jwt_expired"),
        ("/ev/jwt", _bearer(other_key), "jwt_bad_signature"),
        ("/ev/key", {"x-api-key": wrong_key}, "ext_authz_denied"),
        ("/ev/jwt", _bearer(unknown_kid), "jwt_unknown_key"),
        ("/ev/admin", _bearer(valid), "rbac_denied"),
        ("/ev/jwt", {}, "jwt_missing"),
        ("/ev/jwt", _bearer(wrong_issuer), "jwt_unknown_issuer"),
        ("/ev/jwt", _bearer("not-a-jwt"), "jwt_malformed"),
    ]
    expected: dict[str, float] = {}
    events.warm_up("/ev/key", {"x-api-key": key})
    received_before = events.settle()
    denials_before = events.denials()
    with events.client(source) as client:

        def attempt(n: int) -> None:
            path, headers, reason = attempts[n % len(attempts)]
            response = client.get(events.url(path), headers=headers)
            assert response.status_code in (401, 403), response.text
            expected[reason] = expected.get(reason, 0) + 1

        for n in range(THRESHOLD - 1):
            attempt(n)
        events.wait_received(received_before + THRESHOLD - 1, "the denials below the threshold")
        assert events.event_lines(source) == []

        attempt(THRESHOLD - 1)
        wait_until(
            lambda: events.event_lines(source),
            timeout=10.0,
            description="the security event",
            alive=[events.extauthz],
        )
        first = dict(expected)
        # More failures within the window: no second event.
        for n in range(THRESHOLD, 3 * THRESHOLD):
            attempt(n)
        events.wait_received(received_before + 3 * THRESHOLD, "every denial")

    lines = events.event_lines(source)
    assert len(lines) == 1, lines
    event = lines[0]
    assert event["level"] == "warning"
    assert event["failures"] == THRESHOLD
    assert event["window_seconds"] == 120.0
    assert event["reasons"] == first
    assert set(event["routes"]) == {"ev-jwt", "ev-key", "ev-admin"}
    denials = events.denials()
    seen = {r: denials.get(r, 0.0) - denials_before.get(r, 0.0) for r in denials}
    assert {r: n for r, n in seen.items() if n} == expected
    security = events.metrics()[("chaosgw_auth_security_events_total", ())]
    assert security >= 1
    # Neither a token nor a key appears in the service's log.
    text = events.extauthz.log_path.read_text(errors="replace")
    for secret in (expired, other_key, unknown_kid, valid, wrong_issuer):
        assert secret.rsplit(".", 1)[1] not in text
    assert wrong_key not in text
    assert key not in text
