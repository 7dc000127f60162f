"""Deadline-based waiting for conditions that nothing signals (e.g. another task's state)."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class EventuallyTimeout(AssertionError):
    """A condition did not hold before its deadline."""


async def eventually(
    probe: Callable[[], T],
    *,
    timeout: float,  # noqa: ASYNC109 - the deadline is the point, and is reported
    what: str,
    interval: float = 0.005,
) -> T:
    """Call `probe` until it returns something truthy, and return that; fail at the deadline.

    An AssertionError raised by `probe` counts as "not yet", and the last one is reported.
    """
    deadline = time.monotonic() + timeout
    while True:
        failure: AssertionError | None = None
        value: T | None = None
        try:
            value = probe()
        except AssertionError as error:
            failure = error
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            detail = f": {failure}" if failure is not None else f" (last value: {value!r})"
            raise EventuallyTimeout(f"timed out after {timeout:g}s waiting for {what}{detail}")
        await asyncio.sleep(interval)
