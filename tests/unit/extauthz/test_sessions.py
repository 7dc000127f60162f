"""Session checks in the auth service, on a real Redis (127.0.0.1:6379, a key prefix per test):
the id from the header or the route's cookie, the identity upstream and never the id, the other
cookies kept, and refusals: unknown, expired, revoked, and Redis down (503, never admitted)."""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from chaosgw.auth.v1 import auth_pb2
from envoy.service.auth.v3 import external_auth_pb2

from extauthz.identity import SESSION
from extauthz.policies import RoutePolicies, compile_policies
from extauthz.servicer import AuthorizationServicer
from extauthz.sessions import Sessions
from sessionstore.layout import Keys, session_hash
from sessionstore.store import SessionCheck, async_client, sync_client
from sessionstore.store import Sessions as Store

URL = "redis://127.0.0.1:6379/0"
SESSION_KIND = auth_pb2.RoutePolicy.SESSION


@pytest.fixture
def keys() -> Iterator[Keys]:
    keys = Keys(f"test:{uuid.uuid4().hex}:")
    yield keys
    raw = redis.Redis.from_url(URL)
    found = list(raw.scan_iter(match=keys.prefix + "*"))
    if found:
        raw.delete(*found)
    raw.close()


@pytest.fixture
def store(keys: Keys) -> Iterator[Store]:
    client = sync_client(URL, 1.0)
    yield Store(client, keys)
    client.close()


def servicer(check: SessionCheck) -> AuthorizationServicer:
    policies = RoutePolicies()
    policies.replace(
        compile_policies(
            [
                auth_pb2.RoutePolicy(route="me", credentials=[SESSION_KIND], session_cookie="sid"),
                auth_pb2.RoutePolicy(
                    route="gm-only",
                    credentials=[SESSION_KIND],
                    required=[auth_pb2.RoleSet(roles=["gm"])],
                    session_cookie="sid",
                ),
            ]
        )
    )
    return AuthorizationServicer(policies, {SESSION: Sessions(check)})


@pytest.fixture
async def service(keys: Keys) -> AsyncIterator[AuthorizationServicer]:
    client = async_client(URL, 1.0)
    yield servicer(SessionCheck(client, keys))
    await client.aclose()


async def decide(
    service: AuthorizationServicer, route: str, **headers: str
) -> external_auth_pb2.CheckResponse:
    request = external_auth_pb2.CheckRequest()
    request.attributes.context_extensions["route"] = route
    request.attributes.request.http.headers.update(headers)
    return external_auth_pb2.CheckResponse.FromString(await service.decide(request))


def upstream(answer: external_auth_pb2.CheckResponse) -> dict[str, str]:
    assert answer.HasField("ok_response"), answer
    return {h.header.key: h.header.value for h in answer.ok_response.headers}


def refusal(answer: external_auth_pb2.CheckResponse) -> tuple[int, str]:
    assert answer.HasField("denied_response"), answer
    return answer.denied_response.status.code, answer.denied_response.body


async def test_a_session_in_the_header_admits_its_player(
    service: AuthorizationServicer, store: Store
) -> None:
    made = store.create("player-7", ["player", "gm"], "gold", 60_000, 60_000)

    answer = await decide(service, "gm-only", **{"x-chaosgw-session": made.session_id})

    assert upstream(answer) == {
        "x-chaosgw-player-id": "player-7",
        "x-chaosgw-roles": '["gm","player"]',
        "x-chaosgw-tier": "gold",
        "x-chaosgw-session-id": made.fingerprint,
    }
    assert list(answer.ok_response.headers_to_remove) == ["x-chaosgw-session"]
    assert made.session_id not in str(answer)
    assert answer.dynamic_metadata.fields["player_id"].string_value == "player-7"


async def test_the_session_cookie_is_taken_out_and_the_others_go_on(
    service: AuthorizationServicer, store: Store
) -> None:
    made = store.create("player-7", [], "", 60_000, 60_000)

    mixed = await decide(service, "me", cookie=f"theme=dark; sid={made.session_id}; lang=fr")
    alone = await decide(service, "me", cookie=f"sid={made.session_id}")

    assert upstream(mixed)["cookie"] == "theme=dark; lang=fr"
    twice = await decide(service, "me", cookie=f'sid="{made.session_id}"; a=1; sid=other')
    assert upstream(twice)["cookie"] == "a=1"
    assert list(mixed.ok_response.headers_to_remove) == []
    assert "cookie" not in upstream(alone)
    assert list(alone.ok_response.headers_to_remove) == ["cookie"]
    other_cookie = await decide(service, "me", cookie=f"session={made.session_id}")
    assert refusal(other_cookie)[0] == 401


async def test_refusals_say_why_and_never_echo_the_id(
    service: AuthorizationServicer, store: Store, keys: Keys
) -> None:
    made = store.create("player-7", ["player"], "", 60_000, 60_000)
    expired = store.create("player-7", ["player"], "", 60_000, 60_000)
    raw = sync_client(URL, 1.0)
    raw.hset(keys.session(session_hash(expired.session_id)), "a", "0")
    raw.close()
    revoked = store.create("player-7", ["player"], "", 60_000, 60_000)
    store.revoke(revoked.session_id)

    cases = {
        ("gm-only", made.session_id): (403, "missing_role"),
        ("me", expired.session_id): (401, "expired_session"),
        ("me", revoked.session_id): (401, "unknown_session"),
        ("me", "A" * 43): (401, "unknown_session"),
        ("me", "short"): (401, "unknown_session"),
    }
    for (route, session_id), (status, code) in cases.items():
        answer = await decide(service, route, **{"x-chaosgw-session": session_id})
        answered, body = refusal(answer)
        assert (answered, f'"code": "{code}"' in body) == (status, True), (route, body)
        assert session_id not in str(answer)
    missing = await decide(service, "me")
    assert refusal(missing)[0] == 401
    challenge = {h.header.key: h.header.value for h in missing.denied_response.headers}
    assert challenge["www-authenticate"] == 'Session realm="chaosgw"'


async def test_redis_down_refuses_with_503(keys: Keys) -> None:
    client = async_client("redis://127.0.0.1:1/0", 0.1)
    service = servicer(SessionCheck(client, keys))

    answer = await decide(service, "me", **{"x-chaosgw-session": "A" * 43})

    status, body = refusal(answer)
    assert (status, "session_store_unavailable" in body) == (503, True)
    await client.aclose()
