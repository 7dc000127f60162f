"""memory: the control plane's resident memory per 1,000 routes.

Two fresh control-plane processes per round, each measured once idle after start (both start-up
compilations done): one on an empty store, one on a store holding the state. The difference,
per 1,000 routes, is what the state costs: specs, translated resources, serialized snapshots.
"""

from collections.abc import Mapping, Sequence

from tests.bench.control import start_control_plane
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.states import database_copy
from tests.bench.system import rss_bytes

TARGET_ROUTES = 10_000
TARGET_MB_PER_1K = 30.0
MB = 1024 * 1024


class Memory(Scenario):
    baseline = None

    def __init__(self, routes: int, services: int) -> None:
        self.routes, self.services = routes, services
        self.name = f"memory-{routes // 1000}k"
        self.title = f"control plane resident memory per 1,000 routes ({routes:,}-route state)"
        self._ctx: BenchContext | None = None

    def metrics(self) -> Sequence[Metric]:
        applies = self.routes == TARGET_ROUTES
        return [
            Metric(
                "per 1k",
                "RSS per 1,000 routes",
                "MB",
                target=Target(TARGET_MB_PER_1K, applies=applies),
            ),
            Metric("empty", "RSS, empty store", "MB"),
            Metric("loaded", f"RSS, {self.routes:,} routes", "MB"),
        ]

    def settings(self) -> Mapping[str, object]:
        return {
            "state": f"1 listener, {self.routes:,} routes, {self.services:,} services",
            "measure": "VmRSS of a fresh `chaosgw controlplane`, idle after its start-up "
            "compilations, no node connected; loaded minus empty, per 1,000 routes",
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        self._ctx = ctx
        database_copy(ctx.cache, ctx.workdir, self.routes, self.services)  # built outside rounds
        return {}

    async def measure_candidate(self) -> Observations:
        assert self._ctx is not None
        ctx = self._ctx
        empty = _idle_rss(ctx, f"sqlite:///{ctx.workdir / 'memory-empty.db'}")
        copy = database_copy(ctx.cache, ctx.workdir, self.routes, self.services)
        loaded = _idle_rss(ctx, f"sqlite:///{copy}")
        return {
            "per 1k": [(loaded - empty) / MB / (self.routes / 1000)],
            "empty": [empty / MB],
            "loaded": [loaded / MB],
        }


def _idle_rss(ctx: BenchContext, database_url: str) -> int:
    control_plane = start_control_plane(ctx.processes, database_url)
    try:
        assert control_plane.process is not None
        return rss_bytes(control_plane.process.pid)
    finally:
        control_plane.stop()
        control_plane.close()
