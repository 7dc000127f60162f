"""An API key's tier decides its rate limit: the auth service writes `x-chaosgw-tier` (from the
key's `tier`) before the global rate limiter reads it, and a tier a client sends itself is
removed before either. The real `extauthz` and `ratelimit` services (two processes each), one
Envoy, one Redis, in the style of test_rate_limiting.py."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from tests.integration.conftest import _PROCESSES
from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    Envoy,
    ManagedProcess,
    ProcessGroup,
    Upstream,
    consecutive_ports,
    free_port,
    listener_spec,
    port_accepts,
    route_spec,
    scratch_database,
    service_spec,
    wait_until,
)
from tests.integration.ratelimit_service import RateLimitedControlPlane, RateLimitService
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

SECRET = "integration-test-api-key-secret-0123456789"
PROCESSES = 2
BASE, PREMIUM = 3, 6
TIER = "x-chaosgw-tier"


class _Plane(RateLimitedControlPlane):
    """Envoys that ask both the rate-limit service and the auth service."""

    def __init__(self, processes: ProcessGroup, database_url: str, extauthz: str) -> None:
        super().__init__(processes, database_url, endpoints=[])
        self.extauthz = extauthz

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "CHAOSGW_EXTAUTHZ_ENDPOINTS": self.extauthz,
            "CHAOSGW_API_KEY_SECRET": SECRET,
        }


@dataclass
class TieredStack:
    processes: ProcessGroup
    plane: _Plane
    extauthz: ManagedProcess
    service: RateLimitService
    envoy: Envoy
    port: int

    def url(self, path: str) -> str:
        return f"http://{LOCALHOST}:{self.port}{path}"

    def new_key(self, name: str, **fields: Any) -> str:
        body = {"name": name, "owner": "Acme Partners", **fields}
        response = self.plane.admin.request("POST", "/api/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key


def _answers_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code == 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TieredStack]:
    tmp = tmp_path_factory.mktemp("rate-limit-tiers")
    (tmp / "logs").mkdir()
    processes = ProcessGroup(tmp / "logs")
    redis = RedisServer(tmp / "redis")
    processes.processes.append(redis.process)
    try:
        redis.start()
        with scratch_database(os.environ.get("DATABASE_URL", ""), tmp) as database_url:
            grpc_port, http_port = consecutive_ports(PROCESSES), consecutive_ports(PROCESSES)
            extauthz_endpoints = ",".join(f"{LOCALHOST}:{grpc_port + n}" for n in range(PROCESSES))
            plane = _Plane(processes, database_url, extauthz_endpoints)
            service = RateLimitService(processes, redis.url, plane.xds_address)
            plane.endpoints = service.endpoints
            plane.start()
            env = {k: v for k, v in plane.env().items() if not k.startswith("CHAOSGW_")}
            env.update(
                CHAOSGW_API_KEY_SECRET=SECRET,
                CHAOSGW_EXTAUTHZ_PROCESSES=str(PROCESSES),
                CHAOSGW_EXTAUTHZ_GRPC_PORT=str(grpc_port),
                CHAOSGW_EXTAUTHZ_HTTP_PORT=str(http_port),
                CHAOSGW_EXTAUTHZ_XDS_ADDRESS=plane.xds_address,
                CHAOSGW_EXTAUTHZ_NODE_ID="extauthz-tiers",
            )
            extauthz = processes.spawn("extauthz", [CHAOSGW, "extauthz"], env=env)
            upstream = Upstream(processes, "tiers-up", free_port(), LOCALHOST)
            upstream.wait_serving()
            port = free_port()
            admin = plane.admin
            admin.create("listeners", listener_spec("public", port))
            admin.create("services", service_spec("tiers-up", upstream.port))
            route = route_spec("tiered", "public", "/tiered", {"tiers-up": 1})
            route["auth"] = {"type": "authenticated", "credentials": [{"kind": "api_key"}]}
            admin.create("routes", route)
            admin.create(
                "rate-limit-policies",
                {
                    "name": "per-key",
                    "applies_to": {"type": "routes", "routes": ["tiered"]},
                    "counted_by": ["api_key"],
                    "limit": {"requests": BASE, "window_seconds": 60},
                    "tiers": {"premium": {"requests": PREMIUM}},
                },
            )
            proxy = Envoy(processes, plane.xds_address)
            service.start()
            proxy.wait_live()
            wait_until(
                lambda: port_accepts(port),
                timeout=10.0,
                description="Envoy listener 'public'",
                alive=[proxy.process],
            )
            for n in range(PROCESSES):
                wait_until(
                    partial(_answers_ok, f"http://{LOCALHOST}:{http_port + n}/readyz"),
                    timeout=20.0,
                    description=f"extauthz process {n} ready",
                    ignore=(httpx.TransportError,),
                    alive=[extauthz],
                )
            yield TieredStack(processes, plane, extauthz, service, proxy, port)
            proxy.close()
            plane.close()
    finally:
        processes.stop_all()
        redis.client.close()


@pytest.fixture(autouse=True)
def show_logs(request: pytest.FixtureRequest, stack: TieredStack) -> None:
    request.node.stash[_PROCESSES] = stack.processes


def _limit_reached(stack: TieredStack, client: httpx.Client, key: str, **headers: str) -> int:
    """Until the key is admitted and rate limited (it reached every process of both services),
    then how many requests a fresh window admits; the limit the responses announce must agree."""
    url = stack.url("/tiered")
    sent = {"x-api-key": key, **headers}

    def counted() -> httpx.Response | None:
        response = client.get(url, headers=sent)
        ok = response.status_code == 200 and "ratelimit-limit" in response.headers
        return response if ok else None

    first = wait_until(
        counted,
        timeout=10.0,
        description="the key to be admitted and counted",
        alive=[stack.extauthz],
    )
    limit = int(first.headers["ratelimit-limit"])
    assert first.headers["ratelimit-remaining"] == str(limit - 1), "a fresh count"
    admitted = 1
    while True:
        response = client.get(url, headers=sent)
        if response.status_code == 429:
            break
        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-limit"] == str(limit)
        admitted += 1
        assert admitted <= PREMIUM + 1, "never limited"
    assert admitted == limit
    return limit


def test_a_premium_key_gets_the_premium_limit_and_a_key_without_tier_the_base(
    stack: TieredStack,
) -> None:
    premium = stack.new_key("tier-premium", tier="premium")
    base = stack.new_key("tier-none")
    with httpx.Client(timeout=5.0) as client:
        assert _limit_reached(stack, client, premium) == PREMIUM
        assert _limit_reached(stack, client, base) == BASE


def test_a_client_sent_tier_changes_nothing(stack: TieredStack) -> None:
    base = stack.new_key("tier-forger")
    premium = stack.new_key("tier-premium-forging-down", tier="premium")
    with httpx.Client(timeout=5.0) as client:
        assert _limit_reached(stack, client, base, **{TIER: "premium"}) == BASE
        assert _limit_reached(stack, client, premium, **{TIER: "free"}) == PREMIUM
