"""Decides one ShouldRateLimit request: descriptors to counters, Redis or memory, failure modes.

A descriptor that names no known policy, or that does not have the policy's layout (see
proto/chaosgw/ratelimit/v1/policy.proto), is answered OK and counted in a metric, not refused:
during a config push Envoy may send a policy this process has not received yet, and refusing
players for the control plane's lag would be worse than not counting for a moment.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ratelimit import metrics
from ratelimit.keys import counter_key
from ratelimit.memory import LocalWindows, RefusedKeys
from ratelimit.policies import EMPTY, OnRedisError, Policy, PolicyBook
from ratelimit.store import Check, RedisStore, Verdict

Entries = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One descriptor's answer; `policy` is None when the descriptor was ignored."""

    policy: Policy | None = None
    ceiling: int = 0
    limited: bool = False
    # None when nothing is known (ignored, or Redis failed and the policy allows).
    remaining: int | None = None
    reset_seconds: float = 0.0
    retry_after_seconds: float = 0.0


IGNORED = Outcome()


@dataclass(frozen=True, slots=True)
class Decision:
    limited: bool
    outcomes: Sequence[Outcome]


@dataclass(frozen=True, slots=True)
class _Counted:
    position: int
    policy: Policy
    check: Check


class Engine:
    def __init__(
        self,
        store: RedisStore,
        key_prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._prefix = key_prefix
        self._clock = clock
        self._book = EMPTY
        self._refused = RefusedKeys()
        self._fallback = LocalWindows()

    @property
    def book(self) -> PolicyBook:
        return self._book

    def apply(self, book: PolicyBook) -> None:
        """Take a new policy set; limits may have changed, so known refusals are forgotten."""
        self._book = book
        self._refused.clear()
        metrics.POLICIES.set(len(book.policies))

    async def decide(self, descriptors: Sequence[Entries], hits: int) -> Decision:
        hits = max(hits, 1)  # Envoy's 0 means "not set", which is 1
        outcomes: list[Outcome] = [IGNORED] * len(descriptors)
        counted: list[_Counted] = []
        for position, entries in enumerate(descriptors):
            found = self._resolve(entries, hits)
            if isinstance(found, str):
                metrics.IGNORED_DESCRIPTORS.labels(reason=found).inc()
            else:
                counted.append(_Counted(position, *found))
        if not counted:
            return Decision(False, outcomes)
        started = self._clock()
        if self._refuse_from_memory(counted, outcomes, started):
            return Decision(True, outcomes)
        verdicts = await self._store.decide([c.check for c in counted])
        limited = False
        decided: list[tuple[_Counted, Verdict, bool]] = []
        for item, verdict in zip(counted, verdicts, strict=True):
            from_redis = verdict is not None
            if verdict is None:
                verdict = self._on_redis_error(item, started)
            decided.append((item, verdict, from_redis))
            limited |= not verdict.fits and not item.policy.shadow
        for item, verdict, from_redis in decided:
            policy, check = item.policy, item.check
            ceiling = check.ceiling
            remaining: int | None = verdict.remaining
            if from_redis:
                if not verdict.fits and not policy.shadow:
                    # From the call's start: Redis read its clock later, so this is never late.
                    self._refused.remember(
                        check.key, ceiling, hits, started + verdict.retry_after_seconds
                    )
                _count(policy, _outcome(policy, verdict, limited))
            elif policy.on_redis_error == OnRedisError.LOCAL_FALLBACK:
                ceiling = policy.fallback_requests
                if not limited and verdict.fits:
                    self._fallback.add(check.key, policy.window_seconds, hits, started)
            else:
                remaining = None  # allowed or denied blind: nothing is known
            outcomes[item.position] = Outcome(
                policy=policy,
                ceiling=ceiling,
                limited=not verdict.fits,
                remaining=remaining,
                reset_seconds=verdict.reset_seconds,
                retry_after_seconds=verdict.retry_after_seconds,
            )
        return Decision(limited, outcomes)

    def _resolve(self, entries: Entries, hits: int) -> tuple[Policy, Check] | str:
        """The policy and counter of a descriptor, or why it is ignored."""
        if not entries or entries[0][0] != "policy":
            return "no_policy_entry"
        if any(not value for _, value in entries):
            return "empty_value"
        policy = self._book.get(entries[0][1])
        if policy is None:
            return "unknown_policy"
        counted = entries[1:]
        tier = ""
        if policy.has_tiers and len(counted) == len(policy.counted_by) + 1:
            (last_key, tier) = counted[-1]
            if last_key != "tier":
                return "entry_keys"
            counted = counted[:-1]
        if len(counted) != len(policy.counted_by):
            return "entry_count"
        if any(key != wanted for (key, _), wanted in zip(counted, policy.counted_by, strict=True)):
            return "entry_keys"
        key = counter_key(self._prefix, policy.name, [value for _, value in counted])
        check = Check(key, policy.window_seconds, policy.ceiling(tier), hits, policy.shadow)
        return policy, check

    def _refuse_from_memory(
        self, counted: Sequence[_Counted], outcomes: list[Outcome], now: float
    ) -> bool:
        refused = False
        for item in counted:
            check = item.check
            if check.shadow:
                continue
            retry = self._refused.retry_after(check.key, check.ceiling, check.hits, now)
            if retry is None:
                continue
            refused = True
            metrics.count_decision(item.policy.name, metrics.LIMITED_FROM_MEMORY)
            outcomes[item.position] = Outcome(
                policy=item.policy,
                ceiling=check.ceiling,
                limited=True,
                remaining=0,
                reset_seconds=retry,
                retry_after_seconds=retry,
            )
        return refused

    def _on_redis_error(self, item: _Counted, now: float) -> Verdict:
        policy, check = item.policy, item.check
        mode = policy.on_redis_error
        if mode == OnRedisError.LOCAL_FALLBACK:
            verdict = self._fallback.check(
                check.key, policy.window_seconds, policy.fallback_requests, check.hits, now
            )
            outcome = metrics.FALLBACK_ALLOWED if verdict.fits else metrics.FALLBACK_LIMITED
        else:
            denied = mode == OnRedisError.DENY
            retry = float(policy.window_seconds) if denied else 0.0
            verdict = Verdict(not denied, 0, float(policy.window_seconds), retry)
            outcome = metrics.REDIS_ERROR_DENIED if denied else metrics.REDIS_ERROR_ALLOWED
        _count(policy, outcome)
        return verdict


def _outcome(policy: Policy, verdict: Verdict, request_limited: bool) -> str | None:
    if verdict.fits:
        # A descriptor that fits in a refused request was not counted: no decision of its own.
        return None if request_limited else metrics.ALLOWED
    return metrics.SHADOW_LIMITED if policy.shadow else metrics.LIMITED


def _count(policy: Policy, outcome: str | None) -> None:
    if outcome is not None:
        metrics.count_decision(policy.name, outcome)
