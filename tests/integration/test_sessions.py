"""Server-side sessions end to end: made and revoked through the admin API, held in a real
Redis, checked by real `extauthz` processes behind the real Envoy's `ext_authz`.

One gateway and one private redis-server for the module; the last test stops Redis, so it runs
last. Expiries are short (2-3 s) and waited for on conditions with deadlines."""

import secrets
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from tests.integration.auth_gateway import (
    UPSTREAM,
    AuthGateway,
    auth_gateway,
    refused,
    seen_upstream,
)
from tests.integration.conftest import _PROCESSES
from tests.integration.harness import AdminClient, wait_for_response, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PROCESSES = 2
COOKIE = "sid"
SESSION_HEADER = "x-chaosgw-session"
IDENTITY = ("x-chaosgw-player-id", "x-chaosgw-roles", "x-chaosgw-tier", "x-chaosgw-session-id")


class Gateway:
    def __init__(self, gateway: AuthGateway, redis: RedisServer) -> None:
        self.gateway = gateway
        self.redis = redis
        self.admin = gateway.plane.admin

    def login(self, player: str, **terms: Any) -> dict[str, Any]:
        body = {"player_id": player, "roles": ["player"], "tier": "gold", **terms}
        made: dict[str, Any] = self.admin.create("sessions", body)
        return made

    def get(self, path: str, session: str | None = None, **headers: str) -> httpx.Response:
        if session is not None:
            headers[SESSION_HEADER] = session
        return self.gateway.get(path, **headers)

    def wait_for(self, path: str, status: int, timeout: float = 5.0, **headers: str) -> float:
        """Seconds until `path` answers `status`, asking every 50 ms (each ask uses the
        session)."""
        started = time.monotonic()
        wait_for_response(
            self.gateway.http,
            self.gateway.url(path),
            status=status,
            headers=headers,
            timeout=timeout,
            alive=[self.gateway.extauthz],
        )
        return time.monotonic() - started


def _declare(admin: AdminClient) -> None:
    admin.create("roles", {"name": "gm", "permissions": ["players.moderate"]})
    for name, prefix, terms in (("me", "/me", {}), ("gm", "/gm", {"roles_any_of": ["gm"]})):
        auth = {
            "type": "authenticated",
            "credentials": [{"kind": "session", "cookie": COOKIE}],
            **terms,
        }
        admin.create(
            "routes",
            {
                "name": name,
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": prefix}},
                "action": {"type": "forward", "backends": [{"service": UPSTREAM}]},
                "auth": auth,
            },
        )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("sessions")
    redis = RedisServer(tmp / "redis").start()
    env = {"CHAOSGW_SESSIONS_REDIS_URL": redis.url, "CHAOSGW_EXTAUTHZ_REDIS_URL": redis.url}
    started: list[Gateway] = []
    try:
        with auth_gateway(tmp, processes=PROCESSES, env=env, declare=_declare) as gateway:
            started.append(Gateway(gateway, redis))
            yield started[0]
    finally:
        # The last test replaces the server.
        (started[0].redis if started else redis).stop()


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, gateway: Gateway) -> None:
    request.node.stash[_PROCESSES] = gateway.gateway.plane.processes


_refused = partial(refused, challenge='Session realm="chaosgw"')


def test_a_session_admits_its_player_by_cookie_or_header_and_never_goes_upstream(
    gateway: Gateway,
) -> None:
    made = gateway.login("player-1")
    session = made["session_id"]
    gateway.wait_for("/me", 200, **{SESSION_HEADER: session})
    forged = {"x-chaosgw-player-id": "player-2", "x-chaosgw-session-id": "forged"}

    for _ in range(2 * PROCESSES):  # requests alternate between the processes
        by_header = seen_upstream(gateway.get("/me", session, **forged))
        by_cookie = seen_upstream(
            gateway.get("/me", cookie=f"theme=dark; {COOKIE}={session}; lang=fr", **forged)
        )
        for seen in (by_header, by_cookie):
            assert {name: seen.get(name) for name in IDENTITY} == {
                "x-chaosgw-player-id": "player-1",
                "x-chaosgw-roles": '["player"]',
                "x-chaosgw-tier": "gold",
                "x-chaosgw-session-id": made["fingerprint"],
            }
            assert session not in str(seen)
        assert SESSION_HEADER not in by_header
        assert by_cookie["cookie"] == "theme=dark; lang=fr"
    alone = seen_upstream(gateway.get("/me", cookie=f"{COOKIE}={session}"))
    assert "cookie" not in alone
    _refused(gateway.get("/gm", session), 403, "missing_role")
    gm = gateway.login("player-gm", roles=["gm"])
    assert seen_upstream(gateway.get("/gm", gm["session_id"]))["x-chaosgw-roles"] == '["gm"]'


def test_no_session_or_a_forged_one_is_401(gateway: Gateway) -> None:
    made = gateway.login("player-3")
    gateway.wait_for("/me", 200, **{SESSION_HEADER: made["session_id"]})

    _refused(gateway.get("/me"), 401, "missing_credential")
    _refused(gateway.get("/me", secrets.token_urlsafe(32)), 401, "unknown_session")
    _refused(gateway.get("/me", made["session_id"][:-2] + "AA"), 401, "unknown_session")
    _refused(gateway.get("/me", cookie=f"other={made['session_id']}"), 401, "missing_credential")


def test_logout_is_refused_within_a_second(gateway: Gateway) -> None:
    made = gateway.login("player-4")
    gateway.wait_for("/me", 200, **{SESSION_HEADER: made["session_id"]})

    revoked_at = time.monotonic()
    response = gateway.admin.request("DELETE", f"/api/v1/sessions/{made['session_id']}")
    assert response.status_code == 204, response.text
    gateway.wait_for("/me", 401, timeout=1.0, **{SESSION_HEADER: made["session_id"]})
    took = time.monotonic() - revoked_at

    assert took <= 1.0, f"logout took {took:.3f}s"
    for _ in range(2 * PROCESSES):
        _refused(gateway.get("/me", made["session_id"]), 401, "unknown_session")


def test_a_ban_revokes_every_session_of_the_player(gateway: Gateway) -> None:
    banned = [gateway.login("player-5")["session_id"] for _ in range(3)]
    other = gateway.login("player-6")["session_id"]
    for session in [*banned, other]:
        gateway.wait_for("/me", 200, **{SESSION_HEADER: session})

    response = gateway.admin.request("DELETE", "/api/v1/players/player-5/sessions")

    assert response.status_code == 200, response.text
    assert response.json()["revoked"] == 3
    for session in banned:
        _refused(gateway.get("/me", session), 401, "unknown_session")
        _refused(gateway.get("/me", cookie=f"{COOKIE}={session}"), 401, "unknown_session")
    assert seen_upstream(gateway.get("/me", other))["x-chaosgw-player-id"] == "player-6"


def _listed(gateway: Gateway, player: str) -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = gateway.admin.items(f"players/{player}/sessions")["sessions"]
    return sessions


def test_use_keeps_a_session_alive_and_idling_expires_it(gateway: Gateway) -> None:
    made = gateway.login("player-7", idle_timeout_seconds=2, absolute_timeout_seconds=30)
    session = made["session_id"]

    # Used every 200 ms for twice its idle timeout: never refused.
    started = time.monotonic()
    while time.monotonic() - started < 4.0:
        last_use = time.monotonic()  # before Redis sees the use: expiry is at least 2 s after
        assert gateway.get("/me", session).status_code == 200
        time.sleep(0.2)

    # Left alone (listing it does not use it), it is gone one idle timeout later.
    wait_until(lambda: not _listed(gateway, "player-7"), timeout=4.0, description="idle expiry")
    assert time.monotonic() - last_use >= 1.9
    _refused(gateway.get("/me", session), 401, "expired_session")


def test_the_absolute_expiry_holds_however_much_a_session_is_used(gateway: Gateway) -> None:
    made = gateway.login("player-8", idle_timeout_seconds=2, absolute_timeout_seconds=3)
    session = made["session_id"]
    created = time.monotonic()

    took = gateway.wait_for("/me", 401, timeout=6.0, **{SESSION_HEADER: session})

    assert 2.5 <= took <= 4.5, took
    assert time.monotonic() - created >= 2.5
    _refused(gateway.get("/me", session), 401, "expired_session")


def test_without_redis_sessions_are_refused_never_admitted_and_work_again_after(
    gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    made = gateway.login("player-9")
    gateway.wait_for("/me", 200, **{SESSION_HEADER: made["session_id"]})

    gateway.redis.stop()
    answers = [gateway.get("/me", made["session_id"]) for _ in range(10)]
    assert {answer.status_code for answer in answers} == {503}
    assert {answer.json()["error"]["code"] for answer in answers} == {"session_store_unavailable"}
    assert (
        gateway.admin.request("POST", "/api/v1/sessions", json={"player_id": "x"}).status_code
        == 503
    )

    # A Redis without persistence comes back empty: the player logs in again.
    gateway.redis = RedisServer(
        tmp_path_factory.mktemp("redis-again"), port=gateway.redis.port
    ).start()
    again = gateway.login("player-9")
    gateway.wait_for("/me", 200, **{SESSION_HEADER: again["session_id"]})
    _refused(gateway.get("/me", made["session_id"]), 401, "unknown_session")
