"""HeapKeeper: what a rebuild left alive is out of the collector's reach until the publisher is
idle, or until enough rebuilds came without an idle moment."""

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from controlplane.xds.cache import SnapshotCache
from controlplane.xds.heap import HeapKeeper
from controlplane.xds.publisher import SnapshotPublisher
from tests.support.waiting import eventually
from tests.unit.xds.gateway import route
from tests.unit.xds.test_publisher import FakeStore, initial_state, with_route


class Node:
    """An object of a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.peer: Node | None = None


def garbage_cycle() -> "weakref.ref[Node]":
    """A cycle nothing else refers to; the reference tells whether it was collected."""
    first, second = Node(), Node()
    first.peer, second.peer = second, first
    return weakref.ref(first)


def frozen(thing: object) -> bool:
    """Whether `thing` is in the permanent generation (no collection looks at it)."""
    return gc.is_tracked(thing) and not any(o is thing for o in gc.get_objects())


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Only the keeper and the test collect; the process leaves the test with nothing frozen."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()
        gc.collect()


def test_a_rebuild_freezes_what_is_alive_out_of_full_collections() -> None:
    keeper = HeapKeeper()
    cycle = garbage_cycle()

    alive = Node()

    keeper.rebuilt()
    gc.collect()

    assert cycle() is not None
    assert frozen(alive)


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_collects_what_rebuilds_froze_once_quiet_and_freezes_the_rest() -> None:
    clock = Clock()
    keeper = HeapKeeper(quiet_seconds=5, clock=clock)
    cycle = garbage_cycle()
    alive = Node()
    keeper.rebuilt()

    clock.now += 4.9  # the rebuild's snapshots may still be on their way to nodes
    keeper.idle()
    assert cycle() is not None

    clock.now += 0.1
    keeper.idle()
    assert cycle() is None
    assert frozen(alive)


def test_idle_without_a_rebuild_since_the_last_collection_collects_nothing() -> None:
    keeper = HeapKeeper(quiet_seconds=0)
    keeper.rebuilt()
    keeper.idle()
    cycle = garbage_cycle()

    keeper.idle()

    assert cycle() is not None


def test_rebuilds_without_an_idle_moment_collect_every_few() -> None:
    keeper = HeapKeeper(every=3)
    cycle = garbage_cycle()

    keeper.rebuilt()
    keeper.rebuilt()
    gc.collect()
    assert cycle() is not None

    keeper.rebuilt()
    assert cycle() is None


def test_collecting_every_zero_rebuilds_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HeapKeeper(every=0)


async def test_the_publisher_freezes_after_a_rebuild_and_collects_once_idle() -> None:
    store = FakeStore(initial_state())
    cache = SnapshotCache()
    publisher = SnapshotPublisher(
        cache, store.load_state, store.current_revision, 0.01, heap=HeapKeeper(quiet_seconds=0.05)
    )
    await publisher.rebuild()
    cycle = garbage_cycle()

    store.write(with_route(initial_state(), route("users", "users", prefix="/players")))
    await publisher.rebuild()
    gc.collect()
    assert cycle() is not None

    # Its poll finds the revision unchanged: nothing to rebuild, time to collect.
    running = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: cycle() is None, timeout=5, what="the idle collection")
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
