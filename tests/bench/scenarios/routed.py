"""routed: a route and a cluster declared through the admin API, versus a static Envoy config.

Both gateways are Envoys with one worker, pinned to the same CPU, proxying to the same upstream
(a third Envoy that answers by itself). wrk drives one gateway at a time from the other CPU.
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import httpx

from tests.bench import envoys
from tests.bench.control import start_control_plane
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.system import cpu_seconds, pin, usable_cpus
from tests.bench.wrk import WrkSettings, run_wrk
from tests.integration.harness import (
    LOCALHOST,
    ControlPlane,
    free_port,
    listener_spec,
    route_spec,
    service_spec,
    wait_until,
)

PATH = "/bench/items/42"
GROUP = "bench"
UPSTREAM_NAME = "bench-upstream"  # the x-upstream header the upstream Envoy answers with
# Processes whose CPU time is charged to the requests, as the results name them.
GATEWAY, UPSTREAM, CONTROL_PLANE, LOAD = "gateway Envoy", "upstream Envoy", "control plane", "wrk"


@dataclass
class _Gateway:
    envoy: envoys.EnvoyProcess
    port: int


@dataclass
class _Running:
    upstream: envoys.EnvoyProcess
    static: _Gateway
    candidate: _Gateway
    control_plane: ControlPlane

    def stop(self) -> None:
        for envoy in (self.candidate.envoy, self.static.envoy, self.upstream):
            envoy.process.stop()
        self.control_plane.stop()
        self.control_plane.close()


class Routed(Scenario):
    name = "routed"
    title = "gateway (admin API + xDS) vs a static Envoy config, same upstream"
    baseline = (
        "a hand-written static Envoy config doing the same routing (tests/bench/static-envoy.yaml)"
    )

    def __init__(self, smoke: bool) -> None:
        cpus = usable_cpus()
        # The gateway under test alone on one CPU; wrk and the upstream share the other one.
        self._gateway_cpus, self._other_cpus = (cpus[:1], cpus[1:]) if len(cpus) > 1 else ([], [])
        others = tuple(self._other_cpus)
        self._load = WrkSettings(1, 50, 2 if smoke else 10, others)
        self._warmup = WrkSettings(1, 50, 1 if smoke else 2, others)
        self._running: _Running | None = None

    def metrics(self) -> Sequence[Metric]:
        return [
            Metric(
                "rps", "requests/s", "req/s", lower_is_better=False, target=Target(0.97, "ratio")
            ),
            Metric("p50", "latency p50", "ms"),
            Metric("p99", "latency p99", "ms", target=Target(1.05, "ratio")),
            *(
                Metric(_cpu_key(process), f"CPU, {process}", "CPU s / 1k req")
                for process in (GATEWAY, UPSTREAM, LOAD, CONTROL_PLANE)
            ),
            # Near 100 %, the gateway is what limits the rate (not the upstream nor wrk).
            Metric("gateway busy", "gateway Envoy CPU busy", "%", lower_is_better=False),
        ]

    def settings(self) -> Mapping[str, object]:
        load, warmup = self._load, self._warmup
        return {
            "load": f"wrk {load.threads} thread, {load.connections} connections, "
            f"{load.duration_seconds} s per round after a {warmup.duration_seconds} s warm-up, "
            f"GET {PATH}, HTTP/1.1 keep-alive, 127.0.0.1",
            "Envoy": f"--concurrency {envoys.CONCURRENCY} for every Envoy (gateways and upstream)",
            "pinning": (
                f"gateway Envoy on CPU {self._gateway_cpus}, "
                f"wrk and upstream Envoy on CPU {self._other_cpus}"
                if self._gateway_cpus
                else "none (one CPU)"
            ),
            "upstream": "an Envoy answering 200 with a 3-byte body itself (direct_response)",
            "wrk": asdict(load),
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        upstream_port, static_port, candidate_port = free_port(), free_port(), free_port()
        upstream = envoys.start_static(
            ctx.processes, "upstream-envoy", envoys.UPSTREAM_TEMPLATE, ctx.workdir,
            {"port": upstream_port},
        )  # fmt: skip
        static = envoys.start_static(
            ctx.processes, "static-envoy", envoys.STATIC_GATEWAY_TEMPLATE, ctx.workdir,
            {"port": static_port, "upstream_port": upstream_port},
        )  # fmt: skip
        control_plane = start_control_plane(ctx.processes, f"sqlite:///{ctx.workdir}/routed.db")
        candidate = envoys.start_node(
            ctx.processes, "gateway-envoy", GROUP, control_plane.xds_port, ctx.workdir
        )
        self._running = running = _Running(
            upstream,
            _Gateway(static, static_port),
            _Gateway(candidate, candidate_port),
            control_plane,
        )
        # What static-envoy.yaml says, declared the way an operator would.
        admin = control_plane.admin
        admin.create("listeners", {**listener_spec("bench", candidate_port), "node_group": GROUP})
        admin.create("services", service_spec(UPSTREAM_NAME, upstream_port))
        admin.create("routes", route_spec("bench", "bench", "/", {UPSTREAM_NAME: 1}))
        for gateway in (running.static, running.candidate):
            gateway.envoy.wait_live()
            _wait_routed(gateway)
        if self._gateway_cpus:
            pin(running.candidate.envoy.pid, self._gateway_cpus)
            pin(running.static.envoy.pid, self._gateway_cpus)
            pin(running.upstream.pid, self._other_cpus)
        # Connections, upstream pools and caches warm up before anything is counted.
        for gateway in (running.static, running.candidate):
            await run_wrk(_url(gateway), self._warmup)
        return {}

    async def measure_candidate(self) -> Observations:
        running = self._up()
        assert running.control_plane.process is not None
        return await self._measure(
            running.candidate,
            {
                GATEWAY: running.candidate.envoy.pid,
                UPSTREAM: running.upstream.pid,
                CONTROL_PLANE: running.control_plane.process.pid,
            },
        )

    async def measure_baseline(self) -> Observations:
        running = self._up()
        return await self._measure(
            running.static, {GATEWAY: running.static.envoy.pid, UPSTREAM: running.upstream.pid}
        )

    async def teardown(self) -> None:
        if self._running is not None:
            self._running.stop()

    def _up(self) -> _Running:
        if self._running is None:
            raise RuntimeError("routed: measured before setup")
        return self._running

    async def _measure(self, gateway: _Gateway, pids: Mapping[str, int]) -> Observations:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        result = await run_wrk(_url(gateway), self._load)
        used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        used[LOAD] = result.cpu_seconds
        per_1k = 1000 / result.requests
        return {
            "rps": [result.requests_per_second],
            "p50": [result.p50_ms],
            "p99": [result.p99_ms],
            **{_cpu_key(name): [seconds * per_1k] for name, seconds in used.items()},
            "gateway busy": [100 * used[GATEWAY] / result.duration_seconds],
        }


def _cpu_key(process: str) -> str:
    return "cpu " + process


def _url(gateway: _Gateway) -> str:
    return f"http://{LOCALHOST}:{gateway.port}{PATH}"


def _wait_routed(gateway: _Gateway) -> None:
    """Until a request through this gateway is answered by the upstream."""

    def routed() -> bool:
        response = httpx.get(_url(gateway), timeout=1.0)
        return response.status_code == 200 and response.headers.get("x-upstream") == UPSTREAM_NAME

    wait_until(
        routed,
        timeout=30.0,
        description=f"{gateway.envoy.name} on port {gateway.port} to route {PATH} upstream",
        ignore=(httpx.TransportError,),
        alive=[gateway.envoy.process],
    )
