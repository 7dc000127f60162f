"""A gateway with the auth service: one control plane, one Envoy, one launcher of `extauthz`
processes and one upstream (`partners`, echoing the request), with the routes a test module
declares. The control plane and the service get the same extra environment (shared secrets,
Redis URLs: each reads its own variables)."""

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    AdminClient,
    ControlPlane,
    Envoy,
    ManagedProcess,
    ProcessGroup,
    Upstream,
    consecutive_ports,
    free_port,
    listener_spec,
    port_accepts,
    scratch_database,
    service_spec,
    wait_until,
)

UPSTREAM = "partners"


class AuthControlPlane(ControlPlane):
    def __init__(
        self, processes: ProcessGroup, database_url: str, extauthz: str, env: Mapping[str, str]
    ) -> None:
        super().__init__(processes, database_url)
        self.extauthz = extauthz
        self.extra = dict(env)

    def env(self) -> dict[str, str]:
        return {**super().env(), "CHAOSGW_EXTAUTHZ_ENDPOINTS": self.extauthz, **self.extra}


@dataclass
class AuthGateway:
    plane: ControlPlane
    envoy: Envoy
    extauthz: ManagedProcess
    grpc_port: int
    port: int
    database_url: str
    http: httpx.Client

    def url(self, path: str) -> str:
        return f"http://{LOCALHOST}:{self.port}{path}"

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.http.get(self.url(path), headers=headers, timeout=2.0)


@contextmanager
def auth_gateway(
    tmp: Path,
    *,
    processes: int,
    env: Mapping[str, str],
    declare: Callable[[AdminClient], None],
) -> Iterator[AuthGateway]:
    """`declare` adds the module's roles and routes (to listener `public`, service `partners`)."""
    (tmp / "logs").mkdir()
    group = ProcessGroup(tmp / "logs")
    grpc_port, http_port = consecutive_ports(processes), consecutive_ports(processes)
    endpoints = ",".join(f"{LOCALHOST}:{grpc_port + n}" for n in range(processes))
    try:
        with scratch_database(os.environ.get("DATABASE_URL", ""), tmp) as url:
            plane = AuthControlPlane(group, url, endpoints, env).start()
            service_env = {k: v for k, v in plane.env().items() if not k.startswith("CHAOSGW_")}
            service_env.update(
                env,
                CHAOSGW_EXTAUTHZ_PROCESSES=str(processes),
                CHAOSGW_EXTAUTHZ_GRPC_PORT=str(grpc_port),
                CHAOSGW_EXTAUTHZ_HTTP_PORT=str(http_port),
                CHAOSGW_EXTAUTHZ_XDS_ADDRESS=plane.xds_address,
                CHAOSGW_EXTAUTHZ_NODE_ID="extauthz-test",
            )
            extauthz = group.spawn("extauthz", [CHAOSGW, "extauthz"], env=service_env)
            upstream = Upstream(group, UPSTREAM, free_port(), LOCALHOST)
            upstream.wait_serving()
            port = free_port()
            plane.admin.create("listeners", listener_spec("public", port))
            plane.admin.create("services", service_spec(UPSTREAM, upstream.port))
            declare(plane.admin)
            proxy = Envoy(group, plane.xds_address)
            proxy.wait_live()
            wait_until(
                lambda: port_accepts(port),
                timeout=10.0,
                description="Envoy listener 'public'",
                alive=[proxy.process],
            )
            for n in range(processes):
                wait_until(
                    partial(_answers_ok, f"http://{LOCALHOST}:{http_port + n}/readyz"),
                    timeout=20.0,
                    description=f"extauthz process {n} ready",
                    ignore=(httpx.TransportError,),
                    alive=[extauthz],
                )
            with httpx.Client() as http:
                yield AuthGateway(plane, proxy, extauthz, grpc_port, port, url, http)
    finally:
        group.stop_all()


def _answers_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code == 200
