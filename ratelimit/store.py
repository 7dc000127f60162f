"""Counters in Redis, single or Cluster: one script call per decision.

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
"""

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ratelimit import metrics, script
from ratelimit.cluster import SlotMap

# What the script answers: four integers per key (redis-py types it loosely).
_Rows = Awaitable[list[list[int]]]


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

    def __init__(self, single: Redis | None, slots: SlotMap | None, *, timeout: float) -> None:
        self._single = single
        self._slots = slots
        self._timeout = timeout

    @classmethod
    def connect(cls, url: str, *, cluster: bool, timeout: float) -> "RedisStore":
        # No retries inside redis-py: a retry would not fit in the timeout, and the next
        # request tries again anyway.
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": None,
        }
        if cluster:
            return cls(None, SlotMap(url, timeout, options), timeout=timeout)
        return cls(Redis.from_url(url, **options), None, timeout=timeout)

    async def close(self) -> None:
        if self._single is not None:
            await self._single.aclose()
        if self._slots is not None:
            await self._slots.close()

    async def ping(self) -> bool:
        if self._slots is not None:
            return await self._slots.refresh()
        assert self._single is not None
        try:
            async with asyncio.timeout(self._timeout * 4):
                return bool(await cast(Awaitable[bool], self._single.ping()))
        except (RedisError, TimeoutError, OSError):
            return False

    async def decide(self, checks: Sequence[Check]) -> list[Verdict | None]:
        """A verdict per check, in order; None where Redis did not answer in time."""
        groups: dict[int, list[int]] = {}
        for position, check in enumerate(checks):
            slot = 0 if self._slots is None else key_slot(check.key.encode())
            groups.setdefault(slot, []).append(position)
        if len(groups) == 1:
            (slot,) = groups
            return await self._run(slot, checks)
        answers = await asyncio.gather(
            *(self._run(slot, [checks[p] for p in group]) for slot, group in groups.items())
        )
        verdicts: list[Verdict | None] = [None] * len(checks)
        for positions, answer in zip(groups.values(), answers, strict=True):
            for position, verdict in zip(positions, answer, strict=True):
                verdicts[position] = verdict
        return verdicts

    async def _run(self, slot: int, checks: Sequence[Check]) -> list[Verdict | None]:
        keys = [check.key for check in checks]
        argv: list[int] = []
        for check in checks:
            sub_window_ms = check.window_seconds * 1000 // script.SUB_WINDOWS
            argv += (
                script.SUB_WINDOWS,
                sub_window_ms,
                check.ceiling,
                check.hits,
                int(check.shadow),
            )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                rows = await self._call(slot, keys, argv)
        except (TimeoutError, RedisTimeoutError):
            return self._failed("timeout", len(checks))
        except (RedisConnectionError, OSError):
            return self._failed("connection", len(checks))
        except RedisError:
            return self._failed("other", len(checks))
        finally:
            metrics.REDIS_LATENCY.observe(time.perf_counter() - started)
        return [
            Verdict(bool(fits), int(remaining), reset_ms / 1000, retry_ms / 1000)
            for fits, remaining, reset_ms, retry_ms in rows
        ]

    async def _call(self, slot: int, keys: list[str], argv: list[int]) -> list[list[int]]:
        if self._slots is None:
            assert self._single is not None
            return await _script(self._single, keys, argv)
        try:
            return await _script(await self._slots.client(slot), keys, argv)
        except MovedError as moved:
            # A failover or a resharding: the answer names the slot's master, follow it once.
            self._slots.moved(moved.slot_id, moved.node_addr)
            return await _script(await self._slots.client(slot), keys, argv)

    def _failed(self, kind: str, count: int) -> list[Verdict | None]:
        metrics.REDIS_ERRORS.labels(kind=kind).inc()
        if self._slots is not None:
            self._slots.stale()  # a node down, a slot moved: the map may be wrong
        return [None] * count


async def _script(client: Redis, keys: list[str], argv: list[int]) -> list[list[int]]:
    try:
        return await cast(_Rows, client.evalsha(script.SHA, len(keys), *keys, *argv))
    except NoScriptError:
        # A restarted or failed-over Redis forgot the script: EVAL loads it again.
        return await cast(_Rows, client.eval(script.SOURCE, len(keys), *keys, *argv))
