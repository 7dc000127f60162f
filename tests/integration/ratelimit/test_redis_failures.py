"""Redis round trips per decision, and Redis stopped mid-load: each policy's failure mode,
answers within the timeout, and decisions from Redis again once it is back (no restart)."""

import asyncio
import time
from pathlib import Path

import pytest

from ratelimit.settings import Settings
from tests.integration.ratelimit.conftest import Backend, EngineFactory
from tests.support.redis_server import RedisServer
from tests.unit.ratelimit.factories import (
    ALLOW,
    DENY,
    LOCAL_FALLBACK,
    descriptor,
    player,
    policy,
)

pytestmark = pytest.mark.integration

DEFAULT_TIMEOUT = Settings.model_fields["redis_timeout_seconds"].default


def evalsha_calls(server: RedisServer) -> dict[str, int]:
    stats = server.command("INFO", "commandstats")
    return {
        name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
        for name in ("evalsha", "eval", "hmget", "hincrby")
    }


async def test_one_round_trip_per_decision(tmp_path: Path, engines: EngineFactory) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        backend = Backend(server.url, cluster=False)
        engine = await engines(
            backend,
            policy("a", requests=100),
            policy("b", counted_by=("route",), requests=100),
            policy("c", counted_by=("player", "route"), requests=100),
        )
        request = [
            descriptor("a", player("p")),
            descriptor("b", ("route", "/r")),
            descriptor("c", player("p"), ("route", "/r")),
        ]
        await engine.decide(request, 1)  # loads the script (NOSCRIPT, then EVAL)
        before = evalsha_calls(server)
        for _ in range(20):
            assert not (await engine.decide(request, 1)).limited
        after = evalsha_calls(server)
    finally:
        server.stop()
    assert after["evalsha"] - before["evalsha"] == 20
    assert after["eval"] == before["eval"]
    # The reads and writes happened inside the script: an HMGET and an HINCRBY per descriptor.
    assert after["hmget"] - before["hmget"] == 60
    assert after["hincrby"] - before["hincrby"] == 60


async def test_redis_stopped_mid_load_fails_as_configured_and_recovers(
    tmp_path: Path, engines: EngineFactory
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        engine = await engines(
            Backend(server.url, cluster=False),
            policy("open", requests=100, on_redis_error=ALLOW),
            policy("closed", requests=100, on_redis_error=DENY),
            policy("local", requests=100, on_redis_error=LOCAL_FALLBACK, fallback_requests=3),
            redis_timeout=DEFAULT_TIMEOUT,
        )
        open_, closed, local = (descriptor(n, player("p")) for n in ("open", "closed", "local"))
        for entries in (open_, closed, local):
            assert not (await engine.decide([entries], 1)).limited

        server.process.kill()
        slowest = 0.0
        answers: dict[str, list[bool]] = {"open": [], "closed": [], "local": []}
        for _ in range(5):
            for name, entries in (("open", open_), ("closed", closed), ("local", local)):
                started = time.perf_counter()
                decision = await engine.decide([entries], 1)
                slowest = max(slowest, time.perf_counter() - started)
                answers[name].append(decision.limited)

        assert answers["open"] == [False] * 5
        assert answers["closed"] == [True] * 5
        assert answers["local"] == [False, False, False, True, True]  # 3 per process
        assert slowest < DEFAULT_TIMEOUT + 0.03, f"an answer took {slowest * 1000:.0f} ms"

        server.start()  # same port, empty: as after a Redis restart

        async def from_redis() -> bool:
            decision = await engine.decide([closed], 1)
            return not decision.limited and decision.outcomes[0].remaining == 99

        deadline = time.monotonic() + 5
        while not await from_redis():
            assert time.monotonic() < deadline, "decisions never came from Redis again"
            await asyncio.sleep(0.01)
        second = await engine.decide([closed], 1)
        assert second.outcomes[0].remaining == 98
    finally:
        server.stop()
