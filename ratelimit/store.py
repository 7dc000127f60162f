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

from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ratelimit import metrics, script

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
    def __init__(self, client: "Redis | RedisCluster", *, cluster: bool, timeout: float) -> None:
        self._client = client
        self._cluster = cluster
        self._timeout = timeout

    @classmethod
    def connect(cls, url: str, *, cluster: bool, timeout: float) -> "RedisStore":
        # No retries inside redis-py: a retry would not fit in the timeout, and the next
        # request tries again anyway.
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        client: Redis | RedisCluster
        if cluster:
            client = RedisCluster.from_url(url, **options)
        else:
            client = Redis.from_url(url, retry=None, **options)
        return cls(client, cluster=cluster, timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout * 4):
                return bool(await cast(Awaitable[bool], self._client.ping()))
        except (RedisError, TimeoutError, OSError):
            return False

    async def decide(self, checks: Sequence[Check]) -> list[Verdict | None]:
        """A verdict per check, in order; None where Redis did not answer in time."""
        if not self._cluster:
            return await self._run(checks)
        groups: dict[int, list[int]] = {}
        for position, check in enumerate(checks):
            groups.setdefault(key_slot(check.key.encode()), []).append(position)
        if len(groups) == 1:
            return await self._run(checks)
        answers = await asyncio.gather(
            *(self._run([checks[p] for p in positions]) for positions in groups.values())
        )
        verdicts: list[Verdict | None] = [None] * len(checks)
        for positions, answer in zip(groups.values(), answers, strict=True):
            for position, verdict in zip(positions, answer, strict=True):
                verdicts[position] = verdict
        return verdicts

    async def _run(self, checks: Sequence[Check]) -> list[Verdict | None]:
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
                try:
                    rows = await cast(
                        _Rows, self._client.evalsha(script.SHA, len(keys), *keys, *argv)
                    )
                except NoScriptError:
                    # A restarted or failed-over Redis forgot the script: EVAL loads it again.
                    rows = await cast(
                        _Rows, self._client.eval(script.SOURCE, len(keys), *keys, *argv)
                    )
        except (TimeoutError, RedisTimeoutError):
            metrics.REDIS_ERRORS.labels(kind="timeout").inc()
            return [None] * len(checks)
        except (RedisConnectionError, OSError):
            metrics.REDIS_ERRORS.labels(kind="connection").inc()
            return [None] * len(checks)
        except RedisError:
            metrics.REDIS_ERRORS.labels(kind="other").inc()
            return [None] * len(checks)
        finally:
            metrics.REDIS_LATENCY.observe(time.perf_counter() - started)
        return [
            Verdict(bool(fits), int(remaining), reset_ms / 1000, retry_ms / 1000)
            for fits, remaining, reset_ms, retry_ms in rows
        ]
