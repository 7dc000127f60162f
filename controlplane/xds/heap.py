"""Keeps the cyclic garbage collector's full passes off the compiled state between rebuilds."""

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Rebuilds between two full collections while writes keep coming (no idle moment): bounds what
# garbage cycles among frozen objects can hold.
FULL_COLLECTION_EVERY = 50
# How long after the last rebuild the publisher counts as idle: a full collection pauses the
# whole process, so not while the rebuild's snapshots are still being sent to many nodes.
QUIET_SECONDS = 5.0


class HeapKeeper:
    """Freezes what a rebuild left alive, and collects it in full when the publisher is idle.

    A large state is hundreds of thousands of long-lived objects. Allocation during a rebuild
    triggers the collector's full passes now and then, and each scans them all: a 10k-route
    change then took several times its usual time. `gc.freeze()` after a rebuild moves every
    object alive into a generation the collector ignores, so its passes scan only what is new.
    What a later rebuild drops is still freed at once by reference counting; only garbage
    cycles among frozen objects wait, for `collect()`, which runs once the publisher has been
    idle for `quiet_seconds` or after `every` rebuilds without such a moment.
    """

    def __init__(
        self,
        every: int = FULL_COLLECTION_EVERY,
        quiet_seconds: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self._every = every
        self._quiet_seconds = quiet_seconds
        self._clock = clock
        self._rebuilds = 0  # since the last full collection
        self._rebuilt_at = clock()

    def rebuilt(self) -> None:
        """Call after each rebuild (its new state is alive, the old one dropped)."""
        self._rebuilds += 1
        self._rebuilt_at = self._clock()
        if self._rebuilds >= self._every:
            self.collect()
        else:
            gc.freeze()

    def idle(self) -> None:
        """Call when nothing waits for a rebuild: collects in full once rebuilds have been
        quiet for long enough."""
        if self._rebuilds and self._clock() - self._rebuilt_at >= self._quiet_seconds:
            self.collect()

    def collect(self) -> None:
        """Collect everything, frozen objects included, then freeze what is left."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._rebuilds = 0
        log.debug(
            "full garbage collection",
            extra={"seconds": round(time.perf_counter() - started, 4), "unreachable": found},
        )
