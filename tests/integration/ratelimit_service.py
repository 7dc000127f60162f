"""The real `chaosgw ratelimit` service for integration tests (and benchmarks), a control
plane that points Envoy at a rate-limit service, and the players a per-player limit counts.

The service runs as deployed: a launcher and one process per index, each on its own gRPC and
HTTP port (consecutive), sharing counters in one Redis and taking policies from the control
plane over ADS.
"""

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.harness import (
    CHAOSGW,
    LOCALHOST,
    ControlPlane,
    ManagedProcess,
    ProcessGroup,
    child_pids,
    free_port,
    port_accepts,
    wait_until,
)
from tests.support.jwt_issuer import SigningKey, claims_for

DECISIONS = "chaosgw_ratelimit_decisions"


def consecutive_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    while True:
        first = free_port()
        if not any(port_accepts(first + n) for n in range(1, count)):
            return first


class RateLimitedControlPlane(ControlPlane):
    """A control plane whose Envoys ask the rate-limit service at `endpoints`."""

    def __init__(
        self,
        processes: ProcessGroup,
        database_url: str,
        endpoints: list[str],
        *,
        failure_mode_deny: bool = False,
    ) -> None:
        super().__init__(processes, database_url)
        self.endpoints = endpoints
        self.failure_mode_deny = failure_mode_deny

    def env(self) -> dict[str, str]:
        return {**super().env(), **ratelimit_env(self.endpoints, self.failure_mode_deny)}


def ratelimit_env(endpoints: list[str], failure_mode_deny: bool = False) -> dict[str, str]:
    """The control plane's settings for Envoys that ask the rate-limit service at `endpoints`."""
    return {
        "CHAOSGW_RATELIMIT_ENDPOINTS": ",".join(endpoints),
        "CHAOSGW_RATELIMIT_FAILURE_MODE_DENY": str(failure_mode_deny).lower(),
        # Envoy's wait for a decision: the default 0.1 s leaves a service on a machine busy
        # with the rest of the suite too little room (Envoy would admit undecided); the
        # service's own Redis timeout (50 ms) still decides every Redis failure.
        "CHAOSGW_RATELIMIT_TIMEOUT_SECONDS": "0.5",
    }


class Players:
    """Players as the gateway knows them: whoever a token verified by `jwt_authn` names. The
    identity headers the rate limiter counts (`x-chaosgw-player-id`, `x-chaosgw-tier`) are
    written by Envoy from the token's claims; a client's own copies are stripped."""

    ISSUER = "https://id.chaos.example"
    AUDIENCE = "chaos-world"

    def __init__(self, provider: str = "idp") -> None:
        self.provider = provider
        self.key = SigningKey("k1")
        self._tokens: dict[str, str] = {}

    def provider_spec(self) -> dict[str, Any]:
        """The JWT provider to declare: this key's JWKS inline, the tier from claim `tier`."""
        return {
            "name": self.provider,
            "issuer": self.ISSUER,
            "audiences": [self.AUDIENCE],
            "algorithms": ["RS256"],
            "jwks": {"type": "inline", "document": {"keys": [self.key.jwk()]}},
            "claims": {"tier": "tier"},
        }

    def protect(self, route: dict[str, Any]) -> dict[str, Any]:
        """`route` open only to requests with a token from this provider."""
        auth = {
            "type": "authenticated",
            "credentials": [{"kind": "jwt", "providers": [self.provider]}],
        }
        return {**route, "auth": auth}

    def bearer(self, player: str, **claims: Any) -> str:
        """An `Authorization` value for a fresh token naming `player` (valid an hour)."""
        token = claims_for(self.ISSUER, self.AUDIENCE, player, lifetime=3600, **claims)
        return f"Bearer {self.key.sign(token)}"

    def headers(self, player: str) -> dict[str, str]:
        """The headers of a request by `player`: the same token every time (signing costs)."""
        if player not in self._tokens:
            self._tokens[player] = self.bearer(player)
        return {"authorization": self._tokens[player]}


class RateLimitService:
    """`chaosgw ratelimit` with `count` processes; `start()` returns once every one is ready
    (Redis answers and the control plane's policies arrived)."""

    def __init__(
        self,
        processes: ProcessGroup,
        redis_url: str,
        xds_address: str,
        count: int = 2,
        tls_dir: Path | None = None,
        key_prefix: str | None = None,
    ) -> None:
        self.count = count
        self.grpc_port = consecutive_ports(count)
        self.http_port = consecutive_ports(count)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSGW_")}
        env.update(
            CHAOSGW_RATELIMIT_PROCESSES=str(count),
            CHAOSGW_RATELIMIT_GRPC_PORT=str(self.grpc_port),
            CHAOSGW_RATELIMIT_HTTP_PORT=str(self.http_port),
            CHAOSGW_RATELIMIT_REDIS_URL=redis_url,
            CHAOSGW_RATELIMIT_XDS_ADDRESS=xds_address,
            CHAOSGW_RATELIMIT_NODE_ID=f"ratelimit-{self.grpc_port}",
        )
        if key_prefix is not None:  # counters of its own in a shared Redis
            env["CHAOSGW_RATELIMIT_KEY_PREFIX"] = key_prefix
        if tls_dir is not None:  # its service identity, for mTLS to the control plane
            env["CHAOSGW_RATELIMIT_TLS_DIR"] = str(tls_dir)
        self._processes = processes
        self._env = env
        self.process: ManagedProcess | None = None

    def set_xds_address(self, xds_address: str) -> None:
        """Where to subscribe, when the control plane is made after the service's ports."""
        self._env["CHAOSGW_RATELIMIT_XDS_ADDRESS"] = xds_address

    @property
    def endpoints(self) -> list[str]:
        return [f"{LOCALHOST}:{self.grpc_port + n}" for n in range(self.count)]

    def start(self, *, wait_ready: bool = True) -> "RateLimitService":
        if self.process is None:
            self.process = self._processes.spawn("ratelimit", [CHAOSGW, "ratelimit"], env=self._env)
        else:
            self.process.start()
        if not wait_ready:
            return self
        wait_until(
            self.ready,
            timeout=20.0,
            description="every rate-limit process ready (Redis and policies)",
            alive=[self.process],
        )
        return self

    def stop(self) -> None:
        assert self.process is not None
        self.process.stop()

    def ready(self) -> bool:
        return all(self._get(n, "/readyz") == 200 for n in range(self.count))

    def workers(self) -> list[int]:
        """Process ids of the service processes the launcher runs."""
        assert self.process is not None
        return child_pids(self.process)

    def decisions(self, policy: str, outcome: str) -> float:
        """Descriptors decided with `outcome` for `policy`, summed over every process."""
        return decisions([self.http_port + n for n in range(self.count)], policy, outcome)

    def _get(self, index: int, path: str) -> int:
        try:
            url = f"http://{LOCALHOST}:{self.http_port + index}{path}"
            return httpx.get(url, timeout=1.0).status_code
        except httpx.TransportError:
            return 0


def decisions(http_ports: Iterable[int], policy: str, outcome: str) -> float:
    """The decision counter of `policy` and `outcome` at the /metrics of these processes."""
    total = 0.0
    for port in http_ports:
        text = httpx.get(f"http://{LOCALHOST}:{port}/metrics", timeout=2.0).text
        for family in text_string_to_metric_families(text):
            if family.name == DECISIONS:
                total += sum(
                    sample.value
                    for sample in family.samples
                    if sample.name.endswith("_total")
                    and sample.labels == {"policy": policy, "outcome": outcome}
                )
    return total
