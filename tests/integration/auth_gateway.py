"""A gateway with the auth service, the one set-up of every auth integration module: one control
plane, one Envoy, one launcher of `extauthz` processes and echoing upstreams (`partners` unless
the module names others), with the roles and routes the module declares; with `ratelimit`, a
Redis and the real rate-limit service too, asked by the same Envoy.

The control plane and the service get the same extra environment `env` (shared secrets, Redis
URLs: each reads its own variables; the API key secret is set unless `env` sets it);
`service_env` is the service's alone."""

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

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
    child_pids,
    consecutive_ports,
    free_port,
    listener_spec,
    port_accepts,
    scratch_database,
    service_spec,
    wait_until,
)
from tests.integration.ratelimit_service import RateLimitService, ratelimit_env
from tests.support.redis_server import RedisServer

UPSTREAM = "partners"
API_KEY_SECRET = "integration-test-api-key-secret-0123456789"


class AuthControlPlane(ControlPlane):
    """A control plane whose Envoys ask the auth service at `extauthz` (comma-separated
    endpoints), with `env` added to its environment."""

    def __init__(
        self,
        processes: ProcessGroup,
        database_url: str,
        extauthz: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(processes, database_url)
        self.extauthz = extauthz
        self.extra = dict(env or {})

    def env(self) -> dict[str, str]:
        return {**super().env(), "CHAOSGW_EXTAUTHZ_ENDPOINTS": self.extauthz, **self.extra}


@dataclass
class AuthGateway:
    plane: ControlPlane
    envoy: Envoy
    extauthz: ManagedProcess
    grpc_port: int
    http_port: int
    processes: int
    port: int
    database_url: str
    upstreams: dict[str, Upstream]
    ratelimit: RateLimitService | None
    http: httpx.Client

    def url(self, path: str) -> str:
        return f"http://{LOCALHOST}:{self.port}{path}"

    def get(self, path: str, key: str | None = None, **headers: str) -> httpx.Response:
        """GET `path` through Envoy, with API key `key` (as `x-api-key`) if given."""
        if key is not None:
            headers["x-api-key"] = key
        return self.http.get(self.url(path), headers=headers, timeout=2.0)

    def new_key(self, name: str, **fields: Any) -> str:
        """A new API key made through the admin API (owner "Acme Partners" unless given)."""
        body = {"name": name, "owner": "Acme Partners", **fields}
        response = self.plane.admin.request("POST", "/api/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    def workers(self) -> list[int]:
        """Process ids of the auth service processes the launcher runs."""
        return child_pids(self.extauthz)


class OnAuthGateway:
    """Base of a module's own view of the gateway (a dataclass with field `auth` and the
    module's helpers): the gateway's parts by name."""

    auth: AuthGateway

    @property
    def plane(self) -> ControlPlane:
        return self.auth.plane

    @property
    def envoy(self) -> Envoy:
        return self.auth.envoy

    @property
    def extauthz(self) -> ManagedProcess:
        return self.auth.extauthz

    @property
    def http(self) -> httpx.Client:
        return self.auth.http

    def url(self, path: str) -> str:
        return self.auth.url(path)


@contextmanager
def auth_gateway(
    tmp: Path,
    *,
    processes: int = 2,
    env: Mapping[str, str] | None = None,
    service_env: Mapping[str, str] | None = None,
    declare: Callable[[AdminClient], None] | None = None,
    upstreams: Sequence[str] = (UPSTREAM,),
    ratelimit: bool = False,
) -> Iterator[AuthGateway]:
    """`declare` adds the module's roles and routes (to listener `public`, and the services
    named by `upstreams`, one echoing upstream each). Returns once Envoy serves the listener and
    every auth process (and rate-limit process) is ready."""
    (tmp / "logs").mkdir()
    group = ProcessGroup(tmp / "logs")
    shared = {"CHAOSGW_API_KEY_SECRET": API_KEY_SECRET, **(env or {})}
    grpc_port, http_port = consecutive_ports(processes), consecutive_ports(processes)
    endpoints = ",".join(f"{LOCALHOST}:{grpc_port + n}" for n in range(processes))
    redis: RedisServer | None = None
    try:
        with scratch_database(os.environ.get("DATABASE_URL", ""), tmp) as url:
            plane = AuthControlPlane(group, url, endpoints, shared)
            limiter: RateLimitService | None = None
            if ratelimit:
                redis = RedisServer(tmp / "redis")
                group.processes.append(redis.process)
                redis.start()
                limiter = RateLimitService(group, redis.url, plane.xds_address)
                plane.extra.update(ratelimit_env(limiter.endpoints))
            plane.start()
            extauthz_env = {k: v for k, v in plane.env().items() if not k.startswith("CHAOSGW_")}
            extauthz_env.update(
                shared,
                **(service_env or {}),
                CHAOSGW_EXTAUTHZ_PROCESSES=str(processes),
                CHAOSGW_EXTAUTHZ_GRPC_PORT=str(grpc_port),
                CHAOSGW_EXTAUTHZ_HTTP_PORT=str(http_port),
                CHAOSGW_EXTAUTHZ_XDS_ADDRESS=plane.xds_address,
                CHAOSGW_EXTAUTHZ_NODE_ID="extauthz-test",
            )
            extauthz = group.spawn("extauthz", [CHAOSGW, "extauthz"], env=extauthz_env)
            started = {name: Upstream(group, name, free_port(), LOCALHOST) for name in upstreams}
            for upstream in started.values():
                upstream.wait_serving()
            port = free_port()
            plane.admin.create("listeners", listener_spec("public", port))
            for name, upstream in started.items():
                plane.admin.create("services", service_spec(name, upstream.port))
            if declare is not None:
                declare(plane.admin)
            proxy = Envoy(group, plane.xds_address)
            if limiter is not None:
                limiter.start()
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
                yield AuthGateway(
                    plane,
                    proxy,
                    extauthz,
                    grpc_port,
                    http_port,
                    processes,
                    port,
                    url,
                    started,
                    limiter,
                    http,
                )
    finally:
        group.stop_all()
        if redis is not None:
            redis.client.close()


def _answers_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code == 200


def seen_upstream(response: httpx.Response) -> dict[str, str]:
    """The request headers the echoing upstream received: the request was admitted."""
    assert response.status_code == 200, response.text
    headers: dict[str, str] = response.json()["headers"]
    return headers


def refused(response: httpx.Response, status: int, code: str, challenge: str) -> None:
    """Refused by the auth service with `code`; a 401 names the route's scheme."""
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    if status == 401:
        assert response.headers["www-authenticate"] == challenge
