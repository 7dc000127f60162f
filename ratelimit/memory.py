"""What a process decides from its own memory: refusals it already knows, and the fallback.

`RefusedKeys` remembers counters Redis found over their limit, until the moment the same hits
could fit again (at the latest, when the window has moved far enough). It only ever refuses,
and only what Redis itself would refuse: other processes can only have added to a counter, so
the count Redis reported is a lower bound. A flood on one key then costs no Redis round trip.

`LocalWindows` is the LOCAL_FALLBACK limit: the same sub-window counter as the Redis script,
per process, used only while Redis does not answer.
"""

import math
from dataclasses import dataclass

from ratelimit.script import SUB_WINDOWS
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


class LocalWindows:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        # Per key, hits by sub-window index (see ratelimit/script.py: the same counter).
        self._counters: dict[str, dict[int, int]] = {}

    def check(self, key: str, window_seconds: int, ceiling: int, hits: int, now: float) -> Verdict:
        width = window_seconds / SUB_WINDOWS
        index = math.floor(now / width)
        counts = self._span(key, index)
        total = sum(counts.values())
        fits = total + hits <= ceiling
        # As if fitting hits were counted now (the engine adds them unless another refuses).
        newest = index if fits else max(counts, default=None)
        reset = 0.0 if newest is None else (newest + SUB_WINDOWS + 1) * width - now
        retry = 0.0
        if not fits:
            retry = (index + SUB_WINDOWS + 1) * width - now
            left = total
            for oldest in sorted(counts):
                left -= counts[oldest]
                if left + hits <= ceiling:
                    retry = (oldest + SUB_WINDOWS + 1) * width - now
                    break
        return Verdict(
            fits=fits,
            remaining=max(0, ceiling - total - (hits if fits else 0)),
            reset_seconds=reset,
            retry_after_seconds=retry,
        )

    def add(self, key: str, window_seconds: int, hits: int, now: float) -> None:
        index = math.floor(now / (window_seconds / SUB_WINDOWS))
        counts = self._span(key, index)
        counts[index] = counts.get(index, 0) + hits

    def _span(self, key: str, index: int) -> dict[int, int]:
        """The key's counts, without the sub-windows that have left the span at `index`."""
        counts = self._counters.get(key)
        if counts is None:
            if len(self._counters) >= self._max_entries:
                self._counters.clear()
            counts = self._counters[key] = {}
        for old in [i for i in counts if i < index - SUB_WINDOWS]:
            del counts[old]
        return counts
