"""SnapshotPublisher against a fake store: rebuilds, coalescing, polling, failures."""

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from controlplane.model import GatewayState, RouteSpec
from controlplane.translator import translate
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.publisher import SnapshotPublisher
from controlplane.xds.snapshot import CLUSTER, POLICY_GROUP, Snapshot
from tests.support.waiting import eventually
from tests.unit.xds.gateway import listener, marker, route, service

TIMEOUT = 5.0
EDGE = "edge"


def initial_state() -> GatewayState:
    return GatewayState(
        listeners=(listener("public", 10080, EDGE),),
        services=(service("users", "10.0.0.1"),),
        routes=(route("users", "users"), marker("public", "users")),
    )


def with_route(state: GatewayState, spec: RouteSpec) -> GatewayState:
    others = tuple(r for r in state.routes if r.name != spec.name)
    return replace(state, routes=(*others, spec))


def version_of(state: GatewayState, group: str = EDGE) -> str:
    return Snapshot.of_group(translate(state)[group]).version


class FakeStore:
    """load_state and current_revision as the publisher calls them (from worker threads)."""

    def __init__(self, state: GatewayState) -> None:
        self._lock = threading.Lock()
        self._state = state
        self._revision = 1
        self.loads = 0
        self.revision_reads = 0
        self.fail_loads: Exception | None = None
        self.fail_revision: Exception | None = None
        # Cleared to make the next load_state wait (a slow database).
        self.gate = threading.Event()
        self.gate.set()

    def write(self, state: GatewayState) -> None:
        """What an admin write does: new state, next revision."""
        with self._lock:
            self._state, self._revision = state, self._revision + 1

    def load_state(self) -> GatewayState:
        with self._lock:
            self.loads += 1
            failure = self.fail_loads
            # Read when the call starts, like a database transaction's snapshot.
            state = replace(self._state, revision=self._revision)
        assert self.gate.wait(TIMEOUT), "test never opened the gate"
        if failure is not None:
            raise failure
        return state

    def current_revision(self) -> int:
        with self._lock:
            self.revision_reads += 1
            if self.fail_revision is not None:
                raise self.fail_revision
            return self._revision


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(initial_state())


@pytest.fixture
def cache() -> SnapshotCache:
    return SnapshotCache()


Start = Callable[[float], SnapshotPublisher]


@pytest.fixture
async def start(cache: SnapshotCache, store: FakeStore) -> AsyncIterator[Start]:
    """`start(poll_seconds)`: a running publisher, stopped at the end of the test."""
    tasks: list[asyncio.Task[None]] = []

    def run(poll_seconds: float) -> SnapshotPublisher:
        publisher = SnapshotPublisher(cache, store.load_state, store.current_revision, poll_seconds)
        tasks.append(asyncio.create_task(publisher.run()))
        return publisher

    try:
        yield run
    finally:
        store.gate.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with pytest.raises(asyncio.CancelledError):
                await task


def published(cache: SnapshotCache, state: GatewayState) -> Callable[[], bool]:
    expected = version_of(state)
    return lambda: cache.get(EDGE).version == expected


async def test_run_publishes_every_group_at_start(
    cache: SnapshotCache, store: FakeStore, start: Start
) -> None:
    start(60)
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="first snapshot")
    assert cache.groups() == [POLICY_GROUP, EDGE]


async def test_changed_rebuilds_at_once_from_any_thread(
    cache: SnapshotCache, store: FakeStore, start: Start
) -> None:
    publisher = start(60)  # no polling within the test: only changed() can rebuild
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="first snapshot")

    new = with_route(initial_state(), route("users", "users", prefix="/players"))
    store.write(new)
    await asyncio.to_thread(publisher.changed)  # as the admin API's worker threads call it

    await eventually(published(cache, new), timeout=TIMEOUT, what="rebuilt snapshot")
    assert store.loads == 2


async def test_burst_of_changes_coalesces_into_one_rebuild(
    cache: SnapshotCache, store: FakeStore, start: Start
) -> None:
    publisher = start(60)
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="first snapshot")

    # A rebuild is running (held in load_state) while five writes ask for one each: they
    # make one more rebuild, which loads the last of them.
    store.gate.clear()
    publisher.changed()
    await eventually(lambda: store.loads == 2, timeout=TIMEOUT, what="second rebuild started")
    burst = initial_state()
    for number in range(5):
        burst = with_route(burst, route("users", "users", prefix=f"/burst-{number}"))
        store.write(burst)
        publisher.changed()
    store.gate.set()
    await eventually(published(cache, burst), timeout=TIMEOUT, what="the burst's last state")
    assert store.loads == 3

    # Nothing else was queued: the next change is the fourth load, not the eighth.
    final = with_route(burst, route("users", "users", prefix="/final"))
    store.write(final)
    publisher.changed()
    await eventually(published(cache, final), timeout=TIMEOUT, what="the final state")
    assert store.loads == 4


async def test_revision_poll_picks_up_writes_of_other_replicas(
    cache: SnapshotCache, store: FakeStore, start: Start
) -> None:
    start(0.01)
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="first snapshot")

    # While the revision stays, polls do not rebuild.
    reads = store.revision_reads
    await eventually(lambda: store.revision_reads >= reads + 5, timeout=TIMEOUT, what="polls")
    assert store.loads == 1

    new = with_route(initial_state(), route("users", "users", timeout=7))
    store.write(new)  # another replica wrote: nobody calls changed()
    await eventually(published(cache, new), timeout=TIMEOUT, what="polled rebuild")
    assert store.loads == 2


async def test_failing_rebuild_keeps_serving_the_last_snapshots(
    cache: SnapshotCache, store: FakeStore, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = start(0.01)
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="first snapshot")
    served = cache.get(EDGE)
    changed = cache.changed_event(EDGE)

    store.fail_loads = RuntimeError("database is gone")
    store.fail_revision = RuntimeError("database is gone")
    with caplog.at_level(logging.ERROR, logger="controlplane.xds.publisher"):
        publisher.changed()
        await eventually(
            lambda: "rebuild failed" in caplog.text, timeout=TIMEOUT, what="failed rebuild"
        )
        await eventually(
            lambda: "cannot read the store revision" in caplog.text,
            timeout=TIMEOUT,
            what="failed revision poll",
        )
    assert cache.get(EDGE) is served
    assert not changed.is_set()

    # The publisher is still alive: once the store is back, the next write goes out.
    new = with_route(initial_state(), route("users", "users", prefix="/back"))
    store.write(new)
    store.fail_loads = store.fail_revision = None
    publisher.changed()
    await eventually(published(cache, new), timeout=TIMEOUT, what="rebuild after recovery")


async def test_rebuild_of_an_unchanged_state_wakes_nobody(
    cache: SnapshotCache, store: FakeStore
) -> None:
    publisher = SnapshotPublisher(cache, store.load_state, store.current_revision, 60)
    await publisher.rebuild()
    served = cache.get(EDGE)
    changed = cache.changed_event(EDGE)

    store.write(initial_state())  # a new revision with the same content
    await publisher.rebuild()
    assert not changed.is_set()
    assert cache.get(EDGE) is served

    store.write(with_route(initial_state(), route("users", "users", prefix="/new")))
    await publisher.rebuild()
    assert changed.is_set()


async def test_group_whose_last_listener_is_deleted_gets_an_empty_snapshot(
    cache: SnapshotCache, store: FakeStore
) -> None:
    publisher = SnapshotPublisher(cache, store.load_state, store.current_revision, 60)
    await publisher.rebuild()
    assert cache.get(EDGE).of_type(CLUSTER).names == frozenset({"users"})

    store.write(GatewayState(services=initial_state().services))
    await publisher.rebuild()
    assert cache.get(EDGE).version == Snapshot.empty().version
    assert cache.groups() == [POLICY_GROUP, EDGE]


async def test_store_down_when_the_publisher_starts_does_not_stop_it(
    cache: SnapshotCache, store: FakeStore, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    store.fail_loads = RuntimeError("database is not there yet")
    with caplog.at_level(logging.ERROR, logger="controlplane.xds.publisher"):
        publisher = start(60)
        await eventually(lambda: store.loads >= 1, timeout=TIMEOUT, what="first load")
    store.fail_loads = None
    publisher.changed()
    await eventually(published(cache, initial_state()), timeout=TIMEOUT, what="late snapshot")
