"""The session scripts on a real Redis (127.0.0.1:6379), each test under its own key prefix:
what is stored, idle expiry sliding on use, the absolute cap, logout, ban, and Redis down."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio

from sessionstore.layout import EXPIRED_KEPT_MS, Keys, session_hash
from sessionstore.store import (
    EXPIRED,
    UNKNOWN,
    Holder,
    SessionCheck,
    Sessions,
    StoreUnavailable,
    async_client,
    sync_client,
)

URL = "redis://127.0.0.1:6379/0"
NOWHERE = "redis://127.0.0.1:1/0"


@dataclass
class Store:
    sessions: Sessions
    check: SessionCheck
    raw: redis.Redis
    prefix: str


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    raw = redis.Redis.from_url(URL)
    keys = list(raw.scan_iter(match=prefix + "*"))
    if keys:
        raw.delete(*keys)
    raw.close()


@pytest.fixture
async def store(prefix: str) -> AsyncIterator[Store]:
    client = async_client(URL, 1.0)
    raw = sync_client(URL, 1.0)
    yield Store(Sessions(raw, Keys(prefix)), SessionCheck(client, Keys(prefix)), raw, prefix)
    await client.aclose()
    raw.close()


async def until_refused(store: Store, session_id: str, within: float) -> tuple[str, float]:
    """Checks (so uses) the session every 50 ms until refused: what and when (monotonic)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = await store.check.check(session_id)
        if isinstance(answer, str):
            return answer, time.monotonic()
        await asyncio.sleep(0.05)
    raise AssertionError(f"still admitted after {within} s")


async def test_a_session_is_checked_and_redis_holds_only_its_hash(store: Store) -> None:
    created = store.sessions.create("p-1", ["player", "gm"], "gold", 60_000, 120_000)

    holder = await store.check.check(created.session_id)

    assert holder == Holder("p-1", ("player", "gm"), "gold", created.fingerprint)
    assert created.absolute_expires_ms - created.created_ms == 120_000
    assert created.idle_expires_ms - created.created_ms == 60_000
    dump = [(key, store.raw.dump(key)) for key in store.raw.scan_iter(match=store.prefix + "*")]
    assert len(dump) == 2  # the session and the player's set
    assert all(created.session_id.encode() not in key + (value or b"") for key, value in dump)
    assert any(session_hash(created.session_id).encode() in key for key, _ in dump)
    assert created.fingerprint not in created.session_id


async def test_ids_that_were_never_made_are_unknown(store: Store) -> None:
    created = store.sessions.create("p-1", [], "", 60_000, 60_000)

    assert await store.check.check(created.session_id[:-1] + "A") in (UNKNOWN,)
    assert await store.check.check("") == UNKNOWN
    assert await store.check.check("x" * 43) == UNKNOWN
    assert await store.check.check(created.session_id + "A") == UNKNOWN


async def test_use_slides_the_idle_expiry(store: Store) -> None:
    created = store.sessions.create("p-1", [], "", 1000, 10_000)
    started = time.monotonic()

    # Used every 50 ms for 2.5 idle timeouts: never idle long enough to expire.
    while time.monotonic() - started < 2.5:
        assert isinstance(await store.check.check(created.session_id), Holder)
        await asyncio.sleep(0.05)
    idle_from = time.monotonic()
    listed = store.sessions.of_player("p-1")
    assert listed[0].last_used_ms > created.created_ms + 2000

    # Left alone (the list does not use it), it expires one idle timeout after its last use.
    deadline = idle_from + 3.0
    while store.sessions.of_player("p-1"):
        assert time.monotonic() < deadline, "never expired"
        await asyncio.sleep(0.05)
    assert time.monotonic() - idle_from >= 0.9
    assert await store.check.check(created.session_id) == EXPIRED


async def test_the_absolute_expiry_never_moves(store: Store) -> None:
    created = store.sessions.create("p-1", [], "", 1000, 2000)
    started = time.monotonic()

    answer, at = await until_refused(store, created.session_id, within=5.0)

    assert answer == EXPIRED
    assert 1.9 <= at - started <= 2.5
    ttl = store.raw.pttl(store.prefix + "s:" + session_hash(created.session_id))
    assert isinstance(ttl, int)
    assert 0 < ttl <= EXPIRED_KEPT_MS
    assert store.sessions.of_player("p-1") == []


async def test_logout_revokes_one_session(store: Store) -> None:
    first = store.sessions.create("p-1", [], "", 60_000, 60_000)
    second = store.sessions.create("p-1", [], "", 60_000, 60_000)

    assert store.sessions.revoke(first.session_id)

    assert await store.check.check(first.session_id) == UNKNOWN
    assert isinstance(await store.check.check(second.session_id), Holder)
    assert not store.sessions.revoke(first.session_id)
    assert not store.sessions.revoke("not-a-session")
    assert [s.fingerprint for s in store.sessions.of_player("p-1")] == [second.fingerprint]


async def test_a_ban_revokes_every_session_of_the_player_only(store: Store) -> None:
    banned = [store.sessions.create("p-1", [], "", 60_000, 60_000) for _ in range(3)]
    other = store.sessions.create("p-2", [], "", 60_000, 60_000)

    assert store.sessions.revoke_player("p-1") == 3

    for session in banned:
        assert await store.check.check(session.session_id) == UNKNOWN
    assert isinstance(await store.check.check(other.session_id), Holder)
    assert store.sessions.of_player("p-1") == []
    assert store.sessions.revoke_player("p-1") == 0
    assert not store.raw.exists(store.prefix + "p:p-1")


async def test_the_list_shows_live_sessions_by_fingerprint(store: Store) -> None:
    live = store.sessions.create("p-1", [], "", 60_000, 60_000)
    gone = store.sessions.create("p-1", [], "", 60_000, 60_000)
    store.raw.delete(store.prefix + "s:" + session_hash(gone.session_id))

    listed = store.sessions.of_player("p-1")

    assert [s.fingerprint for s in listed] == [live.fingerprint]
    assert listed[0].absolute_expires_ms == live.absolute_expires_ms
    assert store.raw.smembers(store.prefix + "p:p-1") == {session_hash(live.session_id).encode()}


async def test_redis_down_is_an_error_never_an_answer() -> None:
    client = async_client(NOWHERE, 0.2)
    sessions = Sessions(sync_client(NOWHERE, 0.2))
    check = SessionCheck(client)

    with pytest.raises(StoreUnavailable):
        sessions.create("p-1", [], "", 1000, 1000)
    with pytest.raises(StoreUnavailable):
        sessions.revoke("A" * 43)
    with pytest.raises(StoreUnavailable):
        await check.check("A" * 43)
    await client.aclose()
