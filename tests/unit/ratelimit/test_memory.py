"""What a process decides alone: the LOCAL_FALLBACK counter (the script's sub-window counter, on
a given clock) and the refusals it remembers."""

import pytest

from ratelimit.memory import LocalWindows, RefusedKeys


def test_the_fallback_never_admits_more_than_the_ceiling_within_a_window() -> None:
    windows = LocalWindows()

    def take(now: float) -> bool:
        verdict = windows.check("k", 1, 3, 1, now)
        if verdict.fits:
            windows.add("k", 1, 1, now)
        return verdict.fits

    # Two late in one window, one early in the next: the fixed-window exploit's shape.
    assert [take(0.90), take(0.91), take(1.02)] == [True, True, True]
    refused = windows.check("k", 1, 3, 1, 1.5)
    assert not refused.fits
    # The sub-window [0.90, 0.95) leaves the span at 1.95: both its hits with it.
    assert refused.retry_after_seconds == pytest.approx(0.45)
    assert not take(1.94)
    assert take(1.95)
    # The hit of 1.02 is in [1.00, 1.05): it leaves at 2.05, that of 1.95 at 2.95.
    assert windows.check("k", 1, 3, 1, 2.0).remaining == 0
    assert windows.check("k", 1, 3, 1, 2.06).remaining == 1  # (as if this hit were counted)


def test_more_hits_than_the_ceiling_wait_a_whole_window() -> None:
    windows = LocalWindows()
    windows.add("k", 60, 2, 0.0)
    verdict = windows.check("k", 60, 3, 5, 10.0)
    assert not verdict.fits
    # They never fit: retry once a whole window has passed after the current sub-window.
    assert verdict.retry_after_seconds == pytest.approx(72.0 - 10.0)


def test_a_refusal_is_remembered_until_its_retry_time() -> None:
    refused = RefusedKeys()
    refused.remember("k", 5, 2, until=10.0)

    assert refused.retry_after("k", 5, 2, 4.0) == 6.0
    assert refused.retry_after("k", 5, 3, 4.0) == 6.0  # more hits: refused at least as long
    assert refused.retry_after("k", 5, 1, 4.0) is None  # fewer might fit: ask Redis
    assert refused.retry_after("k", 6, 2, 4.0) is None  # another ceiling (a tier, an update)
    assert refused.retry_after("k", 5, 2, 10.0) is None
    assert refused.retry_after("k", 5, 2, 4.0) is None  # forgotten once expired
