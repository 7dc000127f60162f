"""extauthz: requests per second through Envoy's `ext_authz` to the auth service, against a
do-nothing Authorization service on the same port; and the latency at 70 % of saturation.

A gateway Envoy (one worker, alone on one CPU, as in routed) protects one route with the
credentials of a `Credentials` entry (an API key by default), so every request is a `Check`
call to the service. The candidate is one real service process (`python -m extauthz.worker 0`,
as the launcher runs it, taking keys and route policies from the control plane over ADS); the
baseline is tests/bench/noop_service.py, one grpc.aio process answering OK from bytes built
once. They take turns on the same port, pinned to the other CPU with the load generator and
the upstream Envoy.

Each measurement is wrk's saturation rate first (closed loop, 50 connections), then a constant
rate (tests/bench/h2load.py says why h2load, and how): 70 % of the real service's saturation
rate in the first round, where it runs first. Every later measurement of either side, in any
order, runs at that same rate: the baseline is held at a rate the candidate could take, and all
latencies at 70 % compare.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.bench.core import BenchContext, Metric, Observations, Target
from tests.bench.gateway import UPSTREAM_NAME, ServiceScenario, start_gateway
from tests.bench.h2load import MAX_STREAMS, RateResult, RateSettings, run_rate
from tests.bench.scenarios.jwt_rbac import create_provider, player_token
from tests.integration.auth_gateway import AuthControlPlane
from tests.integration.harness import LOCALHOST, AdminClient, ManagedProcess, route_spec
from tests.support.jwt_issuer import SigningKey

PATH = "/bench/items/42"
# The HMAC key API keys are stored under: the control plane's and the service's.
SECRET = "bench-api-key-secret-0123456789-abcdefghij"
# The share of the real service's saturation rate the latency target is stated at.
SHARE = 0.7
# How long Envoy waits for a decision (the control plane's default is 0.2 s). Envoy refuses a
# request whose check times out (503): on a machine other work keeps busy, that would fail the
# run, when it should only show in the latencies.
CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Credentials:
    """How the measured route is protected, and what every request carries.

    `declare` creates what the route's `auth` needs through the admin API (a key, a JWT
    provider, roles) and returns the headers every request carries.
    """

    name: str
    auth: Mapping[str, Any]
    declare: Callable[[AdminClient], dict[str, str]]


def _new_api_key(admin: AdminClient) -> dict[str, str]:
    key: str = admin.create("api-keys", {"name": "bench", "owner": "bench"})["key"]
    return {"x-api-key": key}


API_KEY = Credentials(
    "api-key", {"type": "authenticated", "credentials": [{"kind": "api_key"}]}, _new_api_key
)


def _new_jwt(admin: AdminClient) -> dict[str, str]:
    key = SigningKey("bench")
    create_provider(admin, key)
    return {"authorization": f"Bearer {player_token(key)}"}


# A route accepting a JWT or an API key goes to the service whole, which verifies the token
# (then finds it in its verified-token cache: the same token on every request, as a player's).
JWT = Credentials(
    "jwt",
    {
        "type": "authenticated",
        "credentials": [{"kind": "jwt", "providers": ["bench"]}, {"kind": "api_key"}],
    },
    _new_jwt,
)


class ExtAuthz(ServiceScenario):
    baseline = (
        "a do-nothing Authorization service (tests/bench/noop_service.py: one grpc.aio "
        "process, OK from pre-built bytes) on the same port, same pinning"
    )
    service = "extauthz"
    service_label = "auth service"
    path = PATH
    # Envoy's ext_authz filter stats: answered OK by the service.
    decided = r"\.ext_authz\.ok$"

    def __init__(self, smoke: bool, credentials: Credentials = API_KEY) -> None:
        super().__init__(smoke)
        self.name = f"extauthz-{credentials.name}"
        self.title = f"the extauthz service ({credentials.name}) vs a do-nothing service"
        self._credentials = credentials
        self._rate = RateSettings(2 if smoke else 10, 1, self.pinning.others)
        # The real service's saturation rate in the first round (the runner measures the
        # candidate first there): what 70 % is of, for every measurement after it.
        self._saturation: float | None = None

    def metrics(self) -> Sequence[Metric]:
        rps, p50, p99, *others = self.load_metrics("requests/s", 0.85)
        return [
            rps,
            p50,
            p99,
            Metric("rate", f"constant rate, {SHARE:.0%} of the service's req/s", "req/s"),
            Metric("achieved", "rate achieved", "req/s", lower_is_better=False),
            Metric("p50 steady", f"latency p50 at {SHARE:.0%}", "ms"),
            Metric("p99 steady", f"latency p99 at {SHARE:.0%}", "ms", target=Target(5.0)),
            *others,
        ]

    def settings(self) -> Mapping[str, object]:
        rate = self._rate
        return {
            **self.load_settings(),
            "constant rate": f"h2load, {SHARE:.0%} of the real service's wrk rate in the first "
            f"round, the same rate for both sides in every round, {rate.duration_seconds} s after "
            f"a {rate.warmup_seconds} s warm-up, one h2c connection with up to {MAX_STREAMS} "
            "streams",
            "auth": dict(self._credentials.auth),
            "check timeout": f"{CHECK_TIMEOUT_SECONDS:g} s (not 0.2 s: a busy machine slows the "
            "run rather than failing it)",
            "pinning": self.pinning.describe("auth service, wrk, h2load and upstream Envoy"),
        }

    async def setup(self, ctx: BenchContext) -> Observations:
        self.ctx = ctx
        endpoint = f"{LOCALHOST}:{self.service_port}"
        control_plane = AuthControlPlane(
            ctx.processes,
            f"sqlite:///{ctx.workdir}/{self.name}.db",
            endpoint,
            {
                "CHAOSGW_EXTAUTHZ_TIMEOUT_SECONDS": str(CHECK_TIMEOUT_SECONDS),
                "CHAOSGW_API_KEY_SECRET": SECRET,
            },
        )
        control_plane.start()
        self.gateway = start_gateway(ctx, control_plane, self.name, self.pinning, self._declare)
        return {}

    def _declare(self, admin: AdminClient) -> None:
        self.headers = self._credentials.declare(admin)
        route = route_spec("bench", "bench", "/", {UPSTREAM_NAME: 1})
        admin.create("routes", {**route, "auth": dict(self._credentials.auth)})

    def service_settings(self) -> dict[str, str]:
        return {"CHAOSGW_API_KEY_SECRET": SECRET}

    async def measure(self, service: ManagedProcess, *, candidate: bool) -> Observations:
        _, gateway = self.up()
        saturation = await self.saturate(service)
        if candidate and self._saturation is None:
            self._saturation = saturation.result.requests_per_second
        if self._saturation is None:
            raise RuntimeError(f"{self.name}: the baseline measured before the candidate")
        rate = SHARE * self._saturation
        steady = await run_rate(gateway.url(PATH), rate, self._rate, self.headers)
        return {**saturation.observations(self.service_label), **_steady(steady)}


def _steady(result: RateResult) -> Observations:
    return {
        "rate": [result.offered_per_second],
        "achieved": [result.achieved_per_second],
        "p50 steady": [result.p50_ms],
        "p99 steady": [result.p99_ms],
    }
