"""translate: compile a whole gateway state and serialize every group's snapshot, in process.

This is the CPU work of every rebuild: `translate(state)` and `Snapshot.of_group` per node group
(serializing each resource and hashing it into versions). Loading from the database is not
included here; `route_change` measures the whole path.
"""

import time
from collections.abc import Mapping, Sequence

from controlplane.model import GatewayState
from controlplane.translator import translate
from controlplane.xds.snapshot import Snapshot
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.states import gateway_state

TARGET_ROUTES = 10_000
TARGET_SECONDS = 0.5


class Translate(Scenario):
    baseline = None

    def __init__(self, routes: int, services: int, repeats: int) -> None:
        self.routes, self.services, self.repeats = routes, services, repeats
        self.name = f"translate-{routes // 1000}k"
        self.title = f"translate + serialize {routes:,} routes over {services:,} clusters"
        self._state: GatewayState | None = None
        self._bytes = 0

    def metrics(self) -> Sequence[Metric]:
        target = Target(TARGET_SECONDS) if self.routes == TARGET_ROUTES else None
        return [
            Metric("seconds", "translate + serialize, median", "s", target=target),
            # Garbage collections land in some runs only: the slowest one shows them.
            Metric(
                "seconds max", "translate + serialize, max", "s", source="seconds", percentile=100
            ),
        ]

    def settings(self) -> Mapping[str, object]:
        return {
            "state": f"1 listener, {self.routes:,} routes, {self.services:,} services "
            "(tests/bench/states.py)",
            "runs per round": self.repeats,
            "serialized size": f"{self._bytes / 1e6:.2f} MB",
            "process": "in the bench process, after a warm-up run; no collection forced between "
            "runs (the garbage collector's pauses are part of the cost)",
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        self._state = gateway_state(self.routes, self.services)
        snapshots = _compile(self._state)  # warm-up: imports, caches, first allocations
        self._bytes = sum(
            len(resource.payload)
            for snapshot in snapshots.values()
            for typed in snapshot.types.values()
            for resource in typed.resources.values()
        )
        return {}

    async def measure_candidate(self) -> Observations:
        assert self._state is not None
        seconds = []
        for _ in range(self.repeats):
            started = time.perf_counter()
            _compile(self._state)
            seconds.append(time.perf_counter() - started)
        return {"seconds": seconds}


def _compile(state: GatewayState) -> dict[str, Snapshot]:
    return {group: Snapshot.of_group(resources) for group, resources in translate(state).items()}
