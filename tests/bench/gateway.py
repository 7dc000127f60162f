"""The set-up shared by the scenarios that put one of our gRPC services in Envoy's path
(`ratelimit`, `extauthz`): one gateway Envoy fed by a real control plane, an upstream Envoy
answering by itself, and the service under test taking turns with a do-nothing one
(tests/bench/noop_service.py) on the same port.

The gateway Envoy (one worker) runs alone on one CPU, as in `routed`; the service, the load
generator, the upstream Envoy and whatever the service needs (Redis) share the other.
"""

import abc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import httpx

from tests.bench import envoys
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.system import cpu_seconds, pin, usable_cpus
from tests.bench.wrk import WrkResult, WrkSettings, run_wrk
from tests.integration.harness import (
    LOCALHOST,
    AdminClient,
    ControlPlane,
    ManagedProcess,
    ProcessGroup,
    free_port,
    listener_spec,
    port_accepts,
    service_spec,
    wait_until,
)

GROUP = "bench"
UPSTREAM_NAME = "bench-upstream"
# Processes whose CPU time is charged to the requests, as the results name them (the service's
# own name is the scenario's).
GATEWAY, UPSTREAM, LOAD = "gateway Envoy", "upstream Envoy", "wrk"


@dataclass(frozen=True)
class Pinning:
    """The gateway alone on the first CPU; everything else on the others. Nothing is pinned on
    a machine with one CPU."""

    gateway: tuple[int, ...]
    others: tuple[int, ...]

    @classmethod
    def of_machine(cls) -> "Pinning":
        cpus = tuple(usable_cpus())
        return cls(cpus[:1], cpus[1:]) if len(cpus) > 1 else cls((), ())

    def describe(self, others: str) -> str:
        if not self.gateway:
            return "none (one CPU)"
        return f"gateway Envoy on CPU {list(self.gateway)}; {others} on CPU {list(self.others)}"

    def other(self, pid: int) -> None:
        if self.others:
            pin(pid, self.others)


@dataclass
class Gateway:
    control_plane: ControlPlane
    upstream: envoys.EnvoyProcess
    envoy: envoys.EnvoyProcess
    port: int

    def url(self, path: str) -> str:
        return f"http://{LOCALHOST}:{self.port}{path}"

    def stop(self) -> None:
        for envoy in (self.envoy, self.upstream):
            envoy.process.stop()
        self.control_plane.stop()
        self.control_plane.close()


def start_gateway(
    ctx: BenchContext,
    control_plane: ControlPlane,
    prefix: str,
    pinning: Pinning,
    declare: Callable[[AdminClient], None],
) -> Gateway:
    """An upstream Envoy and a gateway Envoy fed by the (started) `control_plane`, which gets a
    listener for the gateway and the upstream as service `UPSTREAM_NAME`; `declare` adds the
    scenario's routes and policies before the gateway's first config is awaited."""
    upstream_port, gateway_port = free_port(), free_port()
    upstream = envoys.start_static(
        ctx.processes, f"{prefix}-upstream-envoy", envoys.UPSTREAM_TEMPLATE, ctx.workdir,
        {"port": upstream_port},
    )  # fmt: skip
    envoy = envoys.start_node(
        ctx.processes, f"{prefix}-gateway-envoy", GROUP, control_plane.xds_port, ctx.workdir
    )
    gateway = Gateway(control_plane, upstream, envoy, gateway_port)
    admin = control_plane.admin
    admin.create("listeners", {**listener_spec("bench", gateway_port), "node_group": GROUP})
    admin.create("services", service_spec(UPSTREAM_NAME, upstream_port))
    declare(admin)
    envoy.wait_live()
    if pinning.gateway:
        pin(envoy.pid, pinning.gateway)
        pinning.other(upstream.pid)
    return gateway


def service_env(**settings: str) -> dict[str, str]:
    """This environment without any CHAOSGW_ variable, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
    env.update(settings)
    return env


def start_service(
    processes: ProcessGroup,
    name: str,
    argv: Sequence[str],
    ready: Callable[[], bool],
    *,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Spawn a service process and wait until `ready()` says it serves."""
    service = processes.spawn(name, list(argv), env=dict(env) if env is not None else None)
    wait_until(
        ready,
        timeout=30.0,
        description=f"{name} to serve",
        ignore=(httpx.TransportError,),
        alive=[service],
    )
    return service


def start_noop(processes: ProcessGroup, service: str, port: int) -> ManagedProcess:
    """The do-nothing `service` (`ratelimit`, `extauthz`) on `port`."""
    return start_service(
        processes,
        f"noop-{service}",
        [sys.executable, "-m", "tests.bench.noop_service", service, str(port)],
        lambda: port_accepts(port),
    )


def wait_decisions(
    gateway: Gateway,
    path: str,
    headers: Mapping[str, str],
    decided: str,
    service: ManagedProcess,
) -> None:
    """Until `path` is routed upstream and Envoy counts a decision of the service (a stat
    matching `decided`): Envoy reconnects to the port's new process on the next call."""

    def routed() -> bool:
        response = httpx.get(gateway.url(path), headers=dict(headers), timeout=1.0)
        upstream = response.headers.get("x-upstream")
        return response.status_code == 200 and upstream == UPSTREAM_NAME

    wait_until(
        lambda: routed() and envoy_stat(gateway.envoy, decided) > 0,
        timeout=30.0,
        description=f"Envoy to route {path} on decisions of the service",
        ignore=(httpx.TransportError,),
        alive=[service, gateway.envoy.process],
    )


def envoy_stat(envoy: envoys.EnvoyProcess, pattern: str) -> int:
    """The sum of the counters whose names match `pattern`."""
    response = httpx.get(
        f"http://{LOCALHOST}:{envoy.admin_port}/stats",
        params={"format": "json", "filter": pattern},
        timeout=5.0,
    )
    response.raise_for_status()
    return sum(int(stat.get("value", 0)) for stat in response.json()["stats"])


def http_status(url: str) -> int:
    """The status `url` answers; 0 when nothing answers."""
    try:
        return httpx.get(url, timeout=1.0).status_code
    except httpx.TransportError:
        return 0


@dataclass
class Saturation:
    """One wrk run at full speed: its result, the CPU seconds each process used meanwhile, and
    how much each counter read around it grew."""

    result: WrkResult
    cpu: dict[str, float]
    grew: dict[str, float]

    def observations(self, service: str) -> Observations:
        result, per_1k = self.result, 1000 / self.result.requests
        return {
            "rps": [result.requests_per_second],
            "p50": [result.p50_ms],
            "p99": [result.p99_ms],
            **{cpu_key(name): [seconds * per_1k] for name, seconds in self.cpu.items()},
            "service busy": [100 * self.cpu[service] / result.duration_seconds],
            "gateway busy": [100 * self.cpu[GATEWAY] / result.duration_seconds],
        }


def cpu_key(process: str) -> str:
    return "cpu " + process


class ServiceScenario(Scenario):
    """One of our gRPC services (`python -m SERVICE.worker 0`, as the launcher runs it) against
    the do-nothing one of tests/bench/noop_service.py, taking turns on the same port: each
    measurement starts its side, pins it to the CPUs besides the gateway's, calls `measure`,
    and stops it. wrk sends GET `path` with `headers`, 50 connections. `setup` must set `ctx`
    and `gateway`."""

    # The service's package and its name in noop_service; what the results call it.
    service: str
    service_label: str
    path: str
    # Envoy's stats counting the service's decisions (a regular expression).
    decided: str

    def __init__(self, smoke: bool) -> None:
        self.pinning = Pinning.of_machine()
        others = self.pinning.others
        self.load = WrkSettings(1, 50, 2 if smoke else 10, others)
        self.warmup = WrkSettings(1, 50, 1 if smoke else 2, others)
        self.service_port = free_port()
        self.http_port = free_port()
        self.headers: dict[str, str] = {}
        self.ctx: BenchContext | None = None
        self.gateway: Gateway | None = None

    def load_metrics(self, rps_label: str, ratio: float, *processes: str) -> list[Metric]:
        """Requests/s (at least `ratio` of the baseline's), latency, and the CPU per request of
        the service, the gateway, the upstream, `processes` and wrk."""
        return [
            Metric("rps", rps_label, "req/s", lower_is_better=False, target=Target(ratio, "ratio")),
            Metric("p50", "latency p50", "ms"),
            Metric("p99", "latency p99", "ms"),
            *(
                Metric(cpu_key(process), f"CPU, {process}", "CPU s / 1k req")
                for process in (self.service_label, GATEWAY, *processes, UPSTREAM, LOAD)
            ),
            # Near 100 % (of what the other CPU leaves it), the service limits the rate.
            Metric("service busy", f"{self.service_label} CPU busy", "%", lower_is_better=False),
            Metric("gateway busy", "gateway Envoy CPU busy", "%", lower_is_better=False),
        ]

    def load_settings(self) -> dict[str, object]:
        load, warmup = self.load, self.warmup
        return {
            "load": f"wrk {load.threads} thread, {load.connections} connections, "
            f"{load.duration_seconds} s per round after a {warmup.duration_seconds} s warm-up, "
            f"GET {self.path} with {', '.join(self.headers) or 'no header'}, HTTP/1.1 "
            "keep-alive, 127.0.0.1",
            "service": "1 process each side, started for its measurement on the same port",
            "Envoy": f"--concurrency {envoys.CONCURRENCY} for the gateway and the upstream",
            "wrk": asdict(load),
        }

    def service_settings(self) -> dict[str, str]:
        """The service's environment besides its ports, control plane, node id and log level."""
        return {}

    @abc.abstractmethod
    async def measure(self, service: ManagedProcess, *, candidate: bool) -> Observations:
        """Measure with `service` serving (the runner's side); it is stopped after."""

    def up(self) -> tuple[BenchContext, Gateway]:
        if self.ctx is None or self.gateway is None:
            raise RuntimeError(f"{self.name}: measured before setup")
        return self.ctx, self.gateway

    async def saturate(
        self,
        service: ManagedProcess,
        pids: Mapping[str, int] | None = None,
        counters: Mapping[str, Callable[[], float]] | None = None,
    ) -> Saturation:
        """Once Envoy gets the service's decisions, a warm-up, then the measured wrk run, with
        the CPU time of the service, the gateway, the upstream and `pids`, and how much
        `counters` grew meanwhile."""
        _, gateway = self.up()
        url = gateway.url(self.path)
        wait_decisions(gateway, self.path, self.headers, self.decided, service)
        await run_wrk(url, self.warmup, self.headers)
        pids = {
            self.service_label: service.pid,
            GATEWAY: gateway.envoy.pid,
            UPSTREAM: gateway.upstream.pid,
            **(pids or {}),
        }
        counters = counters or {}
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        counted = {name: read() for name, read in counters.items()}
        result = await run_wrk(url, self.load, self.headers)
        cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
        grew = {name: read() - counted[name] for name, read in counters.items()}
        cpu[LOAD] = result.cpu_seconds
        return Saturation(result, cpu, grew)

    async def measure_candidate(self) -> Observations:
        ctx, gateway = self.up()
        prefix = f"CHAOSGW_{self.service.upper()}_"
        settings = {
            "GRPC_PORT": str(self.service_port),
            "HTTP_PORT": str(self.http_port),
            "XDS_ADDRESS": gateway.control_plane.xds_address,
            "NODE_ID": f"bench-{self.service}",
            "LOG_LEVEL": "WARNING",
        }
        env = service_env(
            **{prefix + name: value for name, value in settings.items()}, **self.service_settings()
        )
        service = start_service(
            ctx.processes,
            self.service,
            [sys.executable, "-m", f"{self.service}.worker", "0"],
            lambda: http_status(f"http://{LOCALHOST}:{self.http_port}/readyz") == 200,
            env=env,
        )
        return await self._measure_with(service, candidate=True)

    async def measure_baseline(self) -> Observations:
        ctx, _ = self.up()
        service = start_noop(ctx.processes, self.service, self.service_port)
        return await self._measure_with(service, candidate=False)

    async def teardown(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()

    async def _measure_with(self, service: ManagedProcess, *, candidate: bool) -> Observations:
        try:
            self.pinning.other(service.pid)
            return await self.measure(service, candidate=candidate)
        finally:
            service.stop()
