"""`chaosgw run`: the whole gateway on one workstation, with a demo configuration.

Starts the control plane, three demo upstreams and one Envoy as child processes, declares a
small game API through the admin API, prints where to send requests, and stops everything on
Ctrl-C. Development mode: no admin token, SQLite under ./var.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


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


UPSTREAMS = ("players", "inventory", "inventory-canary")


def demo_config(ports: DevPorts) -> list[tuple[str, dict[str, Any]]]:
    """A small game API: players, and inventory with a 10 % canary."""
    return [
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
    }
    chaosgw = [sys.executable, "-m", "controlplane.cli"]
    children: list[Child] = []

    def start(name: str, *args: str) -> None:
        log = (var / f"{name}.log").open("ab")
        process = subprocess.Popen([*chaosgw, *args], env=env, stdout=log, stderr=log)
        children.append(Child(name, process))

    try:
        start("controlplane", "controlplane")
        _wait(lambda: _get(f"{admin}/readyz") == 200, "the control plane to be ready", children)
        for index, name in enumerate(UPSTREAMS):
            port = str(ports.upstream(index))
            start(f"upstream-{name}", "upstream", "--name", name, "--port", port)
        _declare(admin, demo_config(ports))
        xds, envoy_admin = f"127.0.0.1:{ports.xds}", str(ports.envoy_admin)
        start("envoy", "envoy", "--id", "dev-envoy", "--xds", xds, "--admin-port", envoy_admin)
        gateway = f"http://127.0.0.1:{ports.gateway}"
        _wait(lambda: _get(f"{gateway}/players/1") == 200, "Envoy to route traffic", children)
        print(_banner(gateway, admin, ports), flush=True)
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
            if response.status_code not in (201, 409):  # 409: kept from an earlier run
                raise RuntimeError(f"declaring {kind}/{body['name']}: {response.text}")


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


def _banner(gateway: str, admin: str, ports: DevPorts) -> str:
    return f"""
Chaos Gateway is running (development mode; logs in var/).

  gateway      {gateway}          try: curl {gateway}/players/42
  admin API    {admin}/docs
  nodes        curl {admin}/api/v1/nodes
  metrics      {admin}/metrics
  Envoy admin  http://127.0.0.1:{ports.envoy_admin}

Press Ctrl-C to stop.
"""
