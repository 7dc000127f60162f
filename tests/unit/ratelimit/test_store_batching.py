"""The store's batching, against fake Redis clients: requests of one tick share one call."""

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from ratelimit import script
from ratelimit.cluster import SlotMap
from ratelimit.engine import Engine
from ratelimit.keys import counter_key
from ratelimit.policies import compile_policies
from ratelimit.resp import ScriptClient
from ratelimit.store import MAX_BATCH, Check, RedisStore
from tests.unit.ratelimit.factories import ALLOW, DENY, descriptor, player, policy

PREFIX = "unit"


class FakeRedis:
    """Answers every counter as fitting (remaining = ceiling - hits); records each call."""

    def __init__(self, *, down: bool = False, delay: float = 0.0) -> None:
        self.calls: list[tuple[list[str], list[int]]] = []
        self.down = down
        self.delay = delay
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    async def evalsha(self, sha: str, numkeys: int, *args: Any) -> list[list[int]]:
        assert sha == script.SHA
        keys, argv = list(args[:numkeys]), [int(a) for a in args[numkeys:]]
        self.calls.append((keys, argv))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise RedisConnectionError("connection refused")
        requests = argv[0]
        numbers = argv[1 + requests :]
        assert sum(argv[1 : 1 + requests]) == numkeys == len(numbers) // 5
        return [[1, numbers[i * 5 + 2] - numbers[i * 5 + 3], 1000, 0] for i in range(numkeys)]


class FakeSlots:
    """A SlotMap whose slots live on an `up` or a `down` node."""

    def __init__(self, down_slots: set[int]) -> None:
        self.up, self.down = FakeRedis(), FakeRedis(down=True)
        self.down_slots = down_slots
        self.stale_calls = 0

    async def client(self, slot: int) -> FakeRedis:
        return self.down if slot in self.down_slots else self.up

    def stale(self) -> None:
        self.stale_calls += 1

    async def close(self) -> None:
        return None


def single(fake: FakeRedis, timeout: float = 1.0) -> RedisStore:
    return RedisStore(cast(ScriptClient, fake), None, timeout=timeout)


def check(key: str, ceiling: int = 10, hits: int = 1) -> Check:
    return Check(key, 60, ceiling, hits, shadow=False)


async def test_requests_of_one_tick_share_one_call_in_order() -> None:
    fake = FakeRedis()
    store = single(fake)
    answers = await asyncio.gather(
        store.decide([check("a", ceiling=5)]),
        store.decide([check("b", ceiling=7), check("c", ceiling=9, hits=2)]),
        store.decide([check("d", ceiling=3)]),
    )
    assert len(fake.calls) == 1
    keys, argv = fake.calls[0]
    assert keys == ["a", "b", "c", "d"]
    sub_window_ms = 60_000 // script.SUB_WINDOWS
    assert argv[:4] == [3, 1, 2, 1]
    assert argv[4:9] == [script.SUB_WINDOWS, sub_window_ms, 5, 1, 0]
    remaining = [[v.remaining if v else None for v in answer] for answer in answers]
    assert remaining == [[4], [6, 7], [2]]


async def test_requests_of_later_ticks_take_later_calls() -> None:
    fake = FakeRedis()
    store = single(fake)
    await store.decide([check("a")])
    await store.decide([check("a")])
    assert [keys for keys, _ in fake.calls] == [["a"], ["a"]]


async def test_a_full_batch_goes_out_at_once() -> None:
    fake = FakeRedis()
    store = single(fake)
    answers = await asyncio.gather(*(store.decide([check(f"k{i}")]) for i in range(MAX_BATCH + 3)))
    assert [len(keys) for keys, _ in fake.calls] == [MAX_BATCH, 3]
    assert all(answer[0] is not None for answer in answers)


async def test_a_failed_call_fails_every_request_in_it() -> None:
    store = single(FakeRedis(down=True))
    answers = await asyncio.gather(
        store.decide([check("a")]), store.decide([check("b"), check("c")])
    )
    assert list(answers) == [[None], [None, None]]


async def test_the_timeout_is_per_call() -> None:
    fake = FakeRedis(delay=5.0)
    store = single(fake, timeout=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.gather(store.decide([check("a")]), store.decide([check("b")]))
    assert list(answers) == [[None], [None]]
    assert loop.time() - started < 1.0
    assert fake.resets == 1  # the connection that stopped answering is dropped


async def test_a_cancelled_request_does_not_disturb_its_batch() -> None:
    fake = FakeRedis(delay=0.01)
    store = single(fake)
    cancelled = asyncio.ensure_future(store.decide([check("a")]))
    kept = asyncio.ensure_future(store.decide([check("b", ceiling=4)]))
    await asyncio.sleep(0)  # both submitted, the call under way
    cancelled.cancel()
    answer = await kept
    assert answer[0] is not None
    assert answer[0].remaining == 3
    assert len(fake.calls) == 1


@pytest.mark.parametrize("down_policy", ["open", "closed"])
async def test_a_request_on_a_failed_node_gets_its_failure_mode(down_policy: str) -> None:
    """Cluster: batches are per slot; one on a failed node answers by each policy's mode, the
    requests of the same tick on other nodes are decided as usual."""
    down_key = counter_key(PREFIX, down_policy, ["p-down"])
    slots = FakeSlots({key_slot(down_key.encode())})
    store = RedisStore(None, cast(SlotMap, slots), timeout=1.0)
    engine = Engine(store, PREFIX)
    engine.apply(
        compile_policies(
            [policy("open", on_redis_error=ALLOW), policy("closed", on_redis_error=DENY)]
        )
    )
    other = "closed" if down_policy == "open" else "open"
    requests: Sequence[tuple[str, str]] = [(down_policy, "p-down"), (other, "p-up")]
    on_down, on_up = await asyncio.gather(
        *(engine.decide([descriptor(name, player(value))], 1) for name, value in requests)
    )
    assert on_down.limited == (down_policy == "closed")
    assert on_down.outcomes[0].remaining is None  # decided blind
    assert not on_up.limited
    assert on_up.outcomes[0].remaining == 4
    assert slots.stale_calls == 1
    assert len(slots.up.calls) == len(slots.down.calls) == 1


async def test_requests_during_a_call_go_together_when_it_ends() -> None:
    fake = FakeRedis(delay=0.05)
    store = single(fake)
    first = asyncio.ensure_future(store.decide([check("a")]))
    await asyncio.sleep(0.01)  # the first call under way
    later = [asyncio.ensure_future(store.decide([check(f"b{i}")])) for i in range(3)]
    await asyncio.sleep(0)
    more = asyncio.ensure_future(store.decide([check("c")]))  # another tick, same batch
    await asyncio.gather(first, *later, more)
    assert [keys for keys, _ in fake.calls] == [["a"], ["b0", "b1", "b2", "c"]]


async def test_the_timeout_runs_from_the_moment_a_batch_opens() -> None:
    fake = FakeRedis(delay=5.0)
    store = single(fake, timeout=0.2)
    loop = asyncio.get_running_loop()
    first = asyncio.ensure_future(store.decide([check("a")]))
    await asyncio.sleep(0.1)
    started = loop.time()
    # Opened at 0.1 s, sent when the first call times out (0.2 s), given up on at 0.3 s: a
    # timeout from the call's start would have made it wait until 0.4 s.
    waiting = await store.decide([check("b")])
    assert list(await first) == [None]
    assert waiting == [None]
    assert loop.time() - started < 0.28
    assert len(fake.calls) == 2
