"""Counters in Redis, single or Cluster: at most one script call per decision.

On a single Redis every descriptor of a request goes into one script call: one round trip,
atomic. On Redis Cluster each counter is one key in one slot, but the counters of one request
may live in different slots: they are grouped by slot and each group runs the script once, all
groups concurrently. A request whose keys share a slot is still one round trip, but one that
spans slots loses atomicity across groups: a group may count while another refuses, so a
refused request can use some of another policy's quota. Counting in two phases (check
everywhere, then increment) would close that gap at the price of a second round trip on the
hot path, and would still race with other requests between the phases; we accept the gap.

A group whose call fails is reported as None, and the caller applies each policy's
on_redis_error to it; the other groups' answers stand.

Batching: the groups submitted for the same slot (all of them, on a single Redis) go out
together as one script call that decides them one after the other (see ratelimit/script.py),
each request still atomic and checked-then-counted by itself. A batch goes at the end of the
event-loop tick it was opened in when no call of its slot is under way; otherwise when that
call ends (so under load a decision costs a fraction of a round trip, of the call's overhead
and of the wake-ups of Redis and this process), or at once when full. Alone, a
request waits for nothing but the end of the tick. The timeout runs from the moment a batch
opens, so no request waits longer than it in all; a failed or timed-out call fails every
request in it (each gets its policies' failure modes).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ratelimit import metrics, script
from ratelimit.cluster import SlotMap
from ratelimit.resp import ScriptClient

# Requests per script call at most: a bigger batch would hold Redis too long in one script.
MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class Check:
    key: str
    window_seconds: int
    ceiling: int
    hits: int
    shadow: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    fits: bool  # this counter alone would admit the hits
    remaining: int
    reset_seconds: float  # until the hits counted now have left the window (0: none counted)
    retry_after_seconds: float  # until the same hits could fit (0 when they fit)


class RedisStore:
    """One Redis (`single`) or a Cluster (`slots`: see ratelimit/cluster.py)."""

    def __init__(
        self, single: ScriptClient | None, slots: SlotMap | None, *, timeout: float
    ) -> None:
        self._single = single
        self._slots = slots
        self._timeout = timeout
        self._pending: dict[int, _Batch] = {}  # per slot, the batch of the current tick
        self._running: set[asyncio.Task[None]] = set()
        self._in_flight: dict[int, int] = {}  # per slot, script calls under way
        self._latency = metrics.REDIS_LATENCY

    @classmethod
    def connect(cls, url: str, *, cluster: bool, timeout: float) -> "RedisStore":
        if cluster:
            # redis-py for CLUSTER SLOTS. No retries inside it: a retry would not fit in the
            # timeout, and the next refresh tries again anyway.
            options: dict[str, Any] = {
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": None,
            }
            return cls(None, SlotMap(url, timeout, options), timeout=timeout)
        return cls(ScriptClient(url, connect_timeout=timeout), None, timeout=timeout)

    async def close(self) -> None:
        for task in list(self._running):
            task.cancel()  # their requests get None (the failure modes)
        for batch in self._pending.values():
            batch.fail()
        self._pending.clear()
        if self._single is not None:
            await self._single.close()
        if self._slots is not None:
            await self._slots.close()

    async def ping(self) -> bool:
        if self._slots is not None:
            return await self._slots.refresh()
        assert self._single is not None
        try:
            async with asyncio.timeout(self._timeout * 4):
                return await self._single.ping()
        except (RedisError, TimeoutError, OSError):
            return False

    async def decide(self, checks: Sequence[Check]) -> list[Verdict | None]:
        """A verdict per check, in order; None where Redis did not answer in time."""
        if self._slots is None:
            return await self._submit(0, checks)
        groups: dict[int, list[int]] = {}
        for position, check in enumerate(checks):
            groups.setdefault(key_slot(check.key.encode()), []).append(position)
        if len(groups) == 1:
            (slot,) = groups
            return await self._submit(slot, checks)
        answers = await asyncio.gather(
            *(self._submit(slot, [checks[p] for p in group]) for slot, group in groups.items())
        )
        verdicts: list[Verdict | None] = [None] * len(checks)
        for positions, answer in zip(groups.values(), answers, strict=True):
            for position, verdict in zip(positions, answer, strict=True):
                verdicts[position] = verdict
        return verdicts

    def _submit(self, slot: int, checks: Sequence[Check]) -> "asyncio.Future[list[Verdict | None]]":
        """Adds one request's checks to the slot's open batch; its verdicts, later."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Verdict | None]] = loop.create_future()
        batch = self._pending.get(slot)
        if batch is None:
            batch = self._pending[slot] = _Batch(loop.time() + self._timeout)
            if not self._in_flight.get(slot):
                loop.call_soon(self._flush, slot, batch)
            # else: _run flushes it when the call under way ends
        batch.add(checks, future)
        if len(batch.futures) >= MAX_BATCH:
            self._flush(slot, batch)
        return future

    def _flush(self, slot: int, batch: "_Batch") -> None:
        if self._pending.get(slot) is not batch:
            return  # already sent
        del self._pending[slot]
        self._in_flight[slot] = self._in_flight.get(slot, 0) + 1
        task = asyncio.create_task(self._run(slot, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, slot: int, batch: "_Batch") -> None:
        started = time.perf_counter()
        client: ScriptClient | None = None
        try:
            async with asyncio.timeout_at(batch.deadline):
                client = await self._client(slot)
                try:
                    rows = await _script(client, batch.keys, batch.args())
                except MovedError as moved:
                    # A failover or a resharding: the answer names the slot's master; follow it.
                    assert self._slots is not None
                    self._slots.moved(moved.slot_id, moved.node_addr)
                    client = await self._client(slot)
                    rows = await _script(client, batch.keys, batch.args())
        except (TimeoutError, RedisTimeoutError):
            if client is not None:
                client.reset()  # a node that stopped answering: a new connection next time
            self._failed("timeout")
        except (RedisConnectionError, OSError):
            self._failed("connection")
        except RedisError:
            self._failed("other")
        else:
            if not batch.answer(rows):  # never, unless the script is not ours
                self._failed("other")
        finally:
            batch.fail()  # the requests not answered (all, when the call failed)
            self._latency.observe(time.perf_counter() - started)
            self._in_flight[slot] -= 1
            waiting = self._pending.get(slot)
            if waiting is not None:
                self._flush(slot, waiting)

    async def _client(self, slot: int) -> ScriptClient:
        if self._slots is None:
            assert self._single is not None
            return self._single
        return await self._slots.client(slot)

    def _failed(self, kind: str) -> None:
        metrics.REDIS_ERRORS.labels(kind=kind).inc()
        if self._slots is not None:
            self._slots.stale()  # a node down, a slot moved: the map may be wrong


class _Batch:
    """The requests of one script call: their futures, keys and arguments, in order."""

    __slots__ = ("deadline", "futures", "keys", "numbers", "sizes")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # loop time: the timeout, from the moment the batch opened
        self.futures: list[asyncio.Future[list[Verdict | None]]] = []
        self.keys: list[str] = []
        self.sizes: list[int] = []
        self.numbers: list[int] = []

    def add(self, checks: Sequence[Check], future: "asyncio.Future[list[Verdict | None]]") -> None:
        self.futures.append(future)
        self.sizes.append(len(checks))
        for check in checks:
            self.keys.append(check.key)
            self.numbers += (
                script.SUB_WINDOWS,
                check.window_seconds * 1000 // script.SUB_WINDOWS,
                check.ceiling,
                check.hits,
                int(check.shadow),
            )

    def args(self) -> list[int]:
        return [len(self.sizes), *self.sizes, *self.numbers]

    def answer(self, rows: list[list[int]]) -> bool:
        """Gives each request its rows; False (nobody answered) when the rows do not fit."""
        if len(rows) != len(self.keys):
            return False
        verdicts: list[Verdict | None] = [
            Verdict(bool(fits), int(remaining), reset_ms / 1000, retry_ms / 1000)
            for fits, remaining, reset_ms, retry_ms in rows
        ]
        first = 0
        for future, size in zip(self.futures, self.sizes, strict=True):
            if not future.done():  # its caller may have been cancelled
                future.set_result(verdicts[first : first + size])
            first += size
        return True

    def fail(self) -> None:
        """None for every request not answered yet: its policies' failure modes apply."""
        for future, size in zip(self.futures, self.sizes, strict=True):
            if not future.done():
                future.set_result([None] * size)


async def _script(client: ScriptClient, keys: list[str], argv: list[int]) -> list[list[int]]:
    try:
        rows: list[list[int]] = await client.evalsha(script.SHA, len(keys), *keys, *argv)
    except NoScriptError:
        # A restarted or failed-over Redis forgot the script: EVAL loads it again.
        rows = await client.eval(script.SOURCE, len(keys), *keys, *argv)
    return rows
