"""route_change: the control-plane work to push one changed route, store write to new snapshot.

The real path, in process: a SQLite store holding the state (written through the repositories),
one route replaced in a write transaction as the admin API does it, then the publisher's rebuild
(load the state, translate, serialize, hash, swap the snapshot into the cache, freeze the heap).
Timed from the start of the write until the new snapshot is in the cache; sending it is
`propagation`'s part. A round's changes come back to back, like a burst of admin writes; after
them, the full garbage collection the publisher makes when idle is timed on its own.
"""

import time
from collections.abc import Mapping, Sequence

from controlplane.store import Database
from controlplane.store.repositories import listeners, routes, services
from controlplane.store.state import StoreReader
from controlplane.xds.cache import SnapshotCache
from controlplane.xds.heap import HeapKeeper
from controlplane.xds.publisher import SnapshotPublisher
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.states import GROUP, LISTENER, database_copy, route_spec

TARGET_ROUTES = 10_000
TARGET_MS = 50.0
# The publisher's poll for other replicas' writes plays no part: every rebuild here is explicit.
_NO_POLL = 3600.0


class RouteChange(Scenario):
    baseline = None

    def __init__(self, routes: int, services: int, repeats: int) -> None:
        self.routes, self.services, self.repeats = routes, services, repeats
        self.name = f"route-change-{routes // 1000}k"
        self.title = f"one route changed in a state of {routes:,} routes: store write to snapshot"
        self._database: Database | None = None
        self._cache = SnapshotCache()
        self._publisher: SnapshotPublisher | None = None
        self._heap = HeapKeeper()
        self._writes = 0

    def metrics(self) -> Sequence[Metric]:
        target = Target(TARGET_MS, applies=self.routes == TARGET_ROUTES)
        # A change that takes long is what an admin sees: the tail is judged, not the median only.
        return [
            Metric("total", "write + rebuild, median", "ms", target=target),
            Metric(
                "total p99",
                "write + rebuild, p99",
                "ms",
                source="total",
                percentile=99,
                target=target,
            ),
            Metric(
                "total max",
                "write + rebuild, max",
                "ms",
                source="total",
                percentile=100,
                target=target,
            ),
            Metric("write", "of which store write", "ms"),
            Metric("rebuild", "of which rebuild (load, translate, serialize)", "ms"),
            Metric("idle collection", "full garbage collection when idle", "ms"),
        ]

    def settings(self) -> Mapping[str, object]:
        return {
            "state": f"1 listener, {self.routes:,} routes, {self.services:,} services, "
            "SQLite file written through the repositories",
            "changes per round": self.repeats,
            "change": "one route's path (a new route version, same clusters)",
            "process": "in the bench process: Database, SnapshotPublisher.rebuild(), "
            "SnapshotCache, HeapKeeper (as controlplane/main.py wires them)",
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        path = database_copy(ctx.cache, ctx.workdir, self.routes, self.services)
        self._database = database = Database(f"sqlite:///{path}")
        # Wired as controlplane/main.py wires it: one reader, which reads only what changed.
        store = StoreReader(database)
        self._publisher = SnapshotPublisher(
            self._cache, store.load_state, store.revision, _NO_POLL, heap=self._heap
        )
        await self._publisher.rebuild()  # the state every change starts from
        await self._change()  # and a warm-up change
        return {}

    async def measure_candidate(self) -> Observations:
        observed: Observations = {"total": [], "write": [], "rebuild": []}
        for _ in range(self.repeats):
            write, rebuild = await self._change()
            observed["write"].append(write * 1000)
            observed["rebuild"].append(rebuild * 1000)
            observed["total"].append((write + rebuild) * 1000)
        started = time.perf_counter()
        self._heap.collect()  # what the publisher does once writes have been quiet a while
        observed["idle collection"] = [(time.perf_counter() - started) * 1000]
        return observed

    async def teardown(self) -> None:
        if self._database is not None:
            self._database.dispose()

    async def _change(self) -> tuple[float, float]:
        """Change one route and publish; (write, rebuild) seconds."""
        database, publisher = self._database, self._publisher
        if database is None or publisher is None:
            raise RuntimeError(f"{self.name}: measured before setup")
        self._writes += 1
        index = (self._writes * 7919) % self.routes  # a different route each time
        spec = route_spec(index, self.services, variant=self._writes)
        before = self._cache.get(GROUP).version
        started = time.perf_counter()
        with database.session() as session:
            row = routes.get(session, spec.name)
            listener = listeners.get(session, LISTENER)
            found = services.get_many(session, spec.services())
            if row is None or listener is None:
                raise RuntimeError(f"the store lacks route {spec.name} or listener {LISTENER}")
            routes.replace(session, row, spec, listener, [found[n] for n in sorted(found)])
        written = time.perf_counter()
        await publisher.rebuild()
        done = time.perf_counter()
        if self._cache.get(GROUP).version == before:
            raise RuntimeError(f"changing {spec.name} published no new snapshot")
        return written - started, done - written
