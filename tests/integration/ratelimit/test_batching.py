"""Requests decided together in one script call, against real Redis (single and Cluster): each
is decided in order and atomically, as if it had had a call of its own."""

import asyncio
from pathlib import Path

import pytest

from ratelimit.engine import Decision
from tests.integration.ratelimit.conftest import Backend, EngineFactory
from tests.integration.ratelimit.test_redis_failures import evalsha_calls
from tests.support.redis_server import RedisServer
from tests.unit.ratelimit.factories import descriptor, player, policy

pytestmark = pytest.mark.integration


async def test_a_batch_decides_its_requests_in_order(
    backend: Backend, engines: EngineFactory
) -> None:
    engine = await engines(backend, policy("tight", requests=2))
    request = [descriptor("tight", player("p"))]

    # One tick: the three requests go out in one call.
    decisions: list[Decision] = await asyncio.gather(*(engine.decide(request, 1) for _ in range(3)))

    assert [d.limited for d in decisions] == [False, False, True]
    assert [d.outcomes[0].remaining for d in decisions] == [1, 0, 0]


async def test_a_refused_request_of_a_batch_counts_nothing(
    redis_server: RedisServer, engines: EngineFactory
) -> None:
    """Single Redis: every key of the batch in one call, each request checked, then counted.
    (On a Cluster two policies' counters are in different slots: see ratelimit/store.py.)"""
    backend = Backend(redis_server.url, cluster=False)
    engine = await engines(backend, policy("tight", requests=2), policy("loose", requests=10))
    both = [descriptor("tight", player("p")), descriptor("loose", player("p"))]

    decisions: list[Decision] = await asyncio.gather(*(engine.decide(both, 1) for _ in range(3)))

    assert [d.limited for d in decisions] == [False, False, True]
    assert [d.outcomes[0].remaining for d in decisions] == [1, 0, 0]
    # The refused third request counted nothing: "loose" saw 8 left and kept them.
    assert [d.outcomes[1].remaining for d in decisions] == [9, 8, 8]
    after = await engine.decide([descriptor("loose", player("p"))], 1)
    assert after.outcomes[0].remaining == 7


async def test_requests_of_one_tick_take_one_round_trip(
    tmp_path: Path, engines: EngineFactory
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        engine = await engines(Backend(server.url, cluster=False), policy("a", requests=100))
        await engine.decide([descriptor("a", player("warm"))], 1)  # loads the script
        before = evalsha_calls(server)
        decisions = await asyncio.gather(
            *(engine.decide([descriptor("a", player(f"p{i % 3}"))], 1) for i in range(12))
        )
        after = evalsha_calls(server)
    finally:
        server.stop()
    assert not any(d.limited for d in decisions)
    assert after["evalsha"] - before["evalsha"] == 1
    assert after["hincrby"] - before["hincrby"] == 12
    # p0, p1, p2 four times each, in order.
    assert [d.outcomes[0].remaining for d in decisions] == [99] * 3 + [98] * 3 + [97] * 3 + [96] * 3
