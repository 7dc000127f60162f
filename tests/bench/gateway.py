"""The set-up shared by the scenarios that put one of our gRPC services in Envoy's path
(`ratelimit`, `extauthz`): one gateway Envoy fed by a real control plane, an upstream Envoy
answering by itself, and the service under test taking turns with a do-nothing one
(tests/bench/noop_service.py) on the same port.

The gateway Envoy (one worker) runs alone on one CPU, as in `routed`; the service, the load
generator, the upstream Envoy and whatever the service needs (Redis) share the other.
"""

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from tests.bench import envoys
from tests.bench.core import BenchContext
from tests.bench.system import pin, usable_cpus
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
