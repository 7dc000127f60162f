"""What a process decides from its own memory: refusals it already knows, and the fallback.

`RefusedKeys` remembers counters Redis found over their limit, until the moment the same hits
could fit again (at the latest, when the window has moved far enough). It only ever refuses,
and only what Redis itself would refuse: other processes can only have added to a counter, so
the count Redis reported is a lower bound. A flood on one key then costs no Redis round trip.

`LocalWindows` is the LOCAL_FALLBACK limit: the same sliding-window counter, per process, used
only while Redis does not answer.
"""

import math
from dataclasses import dataclass

from ratelimit.store import Verdict

MAX_ENTRIES = 100_000


@dataclass(slots=True)
class _Refusal:
    until: float
    hits: int


class RefusedKeys:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._entries: dict[tuple[str, int], _Refusal] = {}

    def retry_after(self, key: str, ceiling: int, hits: int, now: float) -> float | None:
        """Seconds until `hits` could fit, if this key is known to refuse them now."""
        entry = self._entries.get((key, ceiling))
        if entry is None:
            return None
        if entry.until <= now:
            del self._entries[key, ceiling]
            return None
        # Known for `entry.hits`; more hits are refused at least as long.
        return entry.until - now if hits >= entry.hits else None

    def remember(self, key: str, ceiling: int, hits: int, until: float) -> None:
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # a flood of distinct keys: forget, Redis still decides
        self._entries[key, ceiling] = _Refusal(until, hits)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(slots=True)
class _Window:
    index: int
    previous: int
    current: int


class LocalWindows:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._windows: dict[str, _Window] = {}

    def check(self, key: str, window_seconds: int, ceiling: int, hits: int, now: float) -> Verdict:
        state = self._rolled(key, window_seconds, now)
        elapsed = now - state.index * window_seconds
        estimate = state.previous * (1 - elapsed / window_seconds) + state.current
        fits = estimate + hits <= ceiling
        reset = window_seconds - elapsed
        # Conservative retry: the end of this window (the Redis path computes it exactly).
        return Verdict(
            fits=fits,
            remaining=max(0, math.floor(ceiling - estimate - (hits if fits else 0))),
            reset_seconds=reset,
            retry_after_seconds=0.0 if fits else reset,
        )

    def add(self, key: str, window_seconds: int, hits: int, now: float) -> None:
        self._rolled(key, window_seconds, now).current += hits

    def _rolled(self, key: str, window_seconds: int, now: float) -> _Window:
        index = math.floor(now / window_seconds)
        state = self._windows.get(key)
        if state is None:
            if len(self._windows) >= self._max_entries:
                self._windows.clear()
            state = self._windows[key] = _Window(index, 0, 0)
        elif state.index != index:
            state.previous = state.current if state.index == index - 1 else 0
            state.current, state.index = 0, index
        return state
