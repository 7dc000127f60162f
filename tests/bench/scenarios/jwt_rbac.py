"""jwt-rbac: a route protected by native JWT verification (RS256, JWT cache on) and an RBAC
permission check, versus the same route unprotected, in the same Envoy.

One gateway Envoy (pinned to one CPU) holds both routes; the same upstream Envoy answers
both. Every request of the candidate carries the same valid token: the JWT cache turns the
signature check into a lookup, which is what a player's repeated requests cost.
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
    AdminClient,
    ControlPlane,
    free_port,
    listener_spec,
    route_spec,
    service_spec,
    wait_until,
)
from tests.support.jwt_issuer import SigningKey, claims_for

GROUP = "bench"
UPSTREAM_NAME = "bench-upstream"
ISSUER = "https://login.bench.example"
AUDIENCE = "bench"
OPEN_PATH, PROTECTED_PATH = "/open/items/42", "/jwt/items/42"
GATEWAY = "gateway Envoy"


def create_provider(admin: AdminClient, key: SigningKey) -> None:
    """The JWT provider `bench`, trusting `key` (inline JWKS), with a fresh token of player
    p-1 (role player) signed by it for every scenario that measures JWTs."""
    admin.create(
        "jwt-providers",
        {
            "name": "bench",
            "issuer": ISSUER,
            "audiences": [AUDIENCE],
            "algorithms": ["RS256"],
            "jwks": {"type": "inline", "document": {"keys": [key.jwk()]}},
        },
    )


def player_token(key: SigningKey) -> str:
    return key.sign(claims_for(ISSUER, AUDIENCE, "p-1", lifetime=3600, roles=["player"]))


@dataclass
class _Running:
    upstream: envoys.EnvoyProcess
    gateway: envoys.EnvoyProcess
    port: int
    control_plane: ControlPlane
    token: str

    def stop(self) -> None:
        for envoy in (self.gateway, self.upstream):
            envoy.process.stop()
        self.control_plane.stop()
        self.control_plane.close()


class JwtRbac(Scenario):
    name = "jwt-rbac"
    title = "native JWT (RS256, cache on) + RBAC route vs the same route unprotected"
    baseline = "the same route without auth, in the same Envoy"

    def __init__(self, smoke: bool) -> None:
        cpus = usable_cpus()
        self._gateway_cpus, self._other_cpus = (cpus[:1], cpus[1:]) if len(cpus) > 1 else ([], [])
        others = tuple(self._other_cpus)
        self._load = WrkSettings(1, 50, 2 if smoke else 10, others)
        self._warmup = WrkSettings(1, 50, 1 if smoke else 2, others)
        self._running: _Running | None = None

    def metrics(self) -> Sequence[Metric]:
        return [
            Metric(
                "rps", "requests/s", "req/s", lower_is_better=False, target=Target(0.75, "ratio")
            ),
            Metric("p50", "latency p50", "ms"),
            Metric("p99", "latency p99", "ms"),
            Metric("cpu gateway", f"CPU, {GATEWAY}", "CPU s / 1k req"),
        ]

    def settings(self) -> Mapping[str, object]:
        load = self._load
        return {
            "load": f"wrk {load.threads} thread, {load.connections} connections, "
            f"{load.duration_seconds} s per round, GET {PROTECTED_PATH} with one RS256 token "
            f"vs GET {OPEN_PATH}, HTTP/1.1 keep-alive, 127.0.0.1",
            "Envoy": f"--concurrency {envoys.CONCURRENCY}",
            "pinning": f"gateway Envoy on CPU {self._gateway_cpus}, wrk and upstream on "
            f"CPU {self._other_cpus}"
            if self._gateway_cpus
            else "none (one CPU)",
            "auth": "jwt_authn with jwt_cache_config, inline RSA-2048 key; RBAC: one permission "
            "granted by one of three roles",
            "wrk": asdict(load),
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        upstream_port, port = free_port(), free_port()
        upstream = envoys.start_static(
            ctx.processes, "upstream-envoy", envoys.UPSTREAM_TEMPLATE, ctx.workdir,
            {"port": upstream_port},
        )  # fmt: skip
        control_plane = start_control_plane(ctx.processes, f"sqlite:///{ctx.workdir}/jwt.db")
        gateway = envoys.start_node(
            ctx.processes, "gateway-envoy", GROUP, control_plane.xds_port, ctx.workdir
        )
        key = SigningKey("bench")
        token = player_token(key)
        self._running = running = _Running(upstream, gateway, port, control_plane, token)
        admin = control_plane.admin
        admin.create("listeners", {**listener_spec("bench", port), "node_group": GROUP})
        admin.create("services", service_spec(UPSTREAM_NAME, upstream_port))
        for role, permissions in (("player", ["items.read"]), ("gm", ["items.read"]), ("x", [])):
            admin.create("roles", {"name": role, "permissions": permissions})
        create_provider(admin, key)
        admin.create("routes", route_spec("open", "bench", "/open/", {UPSTREAM_NAME: 1}))
        protected = route_spec("jwt", "bench", "/jwt/", {UPSTREAM_NAME: 1})
        protected["auth"] = {
            "type": "authenticated",
            "credentials": [{"kind": "jwt", "providers": ["bench"]}],
            "permissions_any_of": ["items.read"],
        }
        admin.create("routes", protected)
        gateway.wait_live()
        for path, headers in ((OPEN_PATH, {}), (PROTECTED_PATH, self._auth())):
            _wait_routed(running, path, headers)
        if self._gateway_cpus:
            pin(gateway.pid, self._gateway_cpus)
            pin(upstream.pid, self._other_cpus)
        await run_wrk(_url(running, OPEN_PATH), self._warmup)
        await run_wrk(_url(running, PROTECTED_PATH), self._warmup, self._auth())
        return {}

    async def measure_candidate(self) -> Observations:
        return await self._measure(PROTECTED_PATH, self._auth())

    async def measure_baseline(self) -> Observations:
        return await self._measure(OPEN_PATH, {})

    async def teardown(self) -> None:
        if self._running is not None:
            self._running.stop()

    def _up(self) -> _Running:
        if self._running is None:
            raise RuntimeError("jwt-rbac: measured before setup")
        return self._running

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._up().token}"}

    async def _measure(self, path: str, headers: Mapping[str, str]) -> Observations:
        running = self._up()
        before = cpu_seconds(running.gateway.pid)
        result = await run_wrk(_url(running, path), self._load, headers)
        used = cpu_seconds(running.gateway.pid) - before
        return {
            "rps": [result.requests_per_second],
            "p50": [result.p50_ms],
            "p99": [result.p99_ms],
            "cpu gateway": [used * 1000 / result.requests],
        }


def _url(running: _Running, path: str) -> str:
    return f"http://{LOCALHOST}:{running.port}{path}"


def _wait_routed(running: _Running, path: str, headers: Mapping[str, str]) -> None:
    def routed() -> bool:
        response = httpx.get(_url(running, path), headers=dict(headers), timeout=1.0)
        return response.status_code == 200 and response.headers.get("x-upstream") == UPSTREAM_NAME

    wait_until(
        routed,
        timeout=30.0,
        description=f"{path} to be routed upstream",
        ignore=(httpx.TransportError,),
        alive=[running.gateway.process],
    )
