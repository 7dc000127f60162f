"""`chaosgw run` (what `make run` starts): the whole gateway with its demo, rate limiting
included, and a clean stop of every process it started."""

import os
import re
import signal
import socket
import ssl
import sys
from pathlib import Path

import httpx
import pytest

from controlplane.devstack import (
    EXTAUTHZ_PROCESSES,
    PLAYER_LIMIT,
    RATELIMIT_PROCESSES,
    SHELL_VARIABLE,
    DevPorts,
)
from tests.integration.harness import ManagedProcess, port_accepts, wait_for_response, wait_until

pytestmark = pytest.mark.integration


def _free_offset() -> DevPorts:
    """An offset that puts every port of the stack on a free port below the ephemeral range."""
    for offset in range(5000, 14000, 137):
        ports = DevPorts(offset)
        if not any(port_accepts(port) for port in ports.every()):
            return ports
    raise RuntimeError("no free set of ports for the local stack")


def descendants(pid: int) -> list[int]:
    """Children, their children, and so on (the rate-limit launcher has its own)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += [int(child), *descendants(int(child))]
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_the_demo_and_stops_everything(tmp_path: Path, stop_signal: int) -> None:
    ports = _free_offset()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    stack = ManagedProcess(
        "chaosgw-run",
        [sys.executable, "-m", "controlplane.cli", "run", "--port-offset", str(ports.offset)],
        log_dir=tmp_path,
        env=env,
        cwd=tmp_path,
    ).start()
    try:
        wait_until(
            lambda: "Press Ctrl-C" in stack.log_path.read_text(),
            timeout=60,
            description="the stack to print where to send requests",
            alive=[stack],
        )
        banner = stack.log_path.read_text()
        assert f"http://127.0.0.1:{ports.gateway}" in banner
        assert f"http://127.0.0.1:{ports.admin}/docs" in banner

        players = httpx.get(f"http://127.0.0.1:{ports.gateway}/players/42", timeout=5)
        assert players.status_code == 200
        assert players.headers["x-upstream"] == "players"
        # Envoy, and every process of the rate-limit and auth services (one ADS stream per
        # resource type the auth service follows).
        expected = sorted(
            [
                "dev-envoy",
                *(f"dev-ratelimit-{index}" for index in range(RATELIMIT_PROCESSES)),
                *(
                    f"dev-extauthz-{index}-{kind}"
                    for index in range(EXTAUTHZ_PROCESSES)
                    for kind in ("keys", "routes", "jwt", "introspectors")
                ),
            ]
        )

        def connected() -> list[str]:
            nodes = httpx.get(f"http://127.0.0.1:{ports.admin}/api/v1/nodes", timeout=5).json()
            return sorted(node["id"] for node in nodes["items"])

        wait_until(lambda: connected() == expected, timeout=15, description=f"nodes {expected}")
        # All of them over mTLS: the xDS port speaks TLS with the certificate made in var/certs.
        context = ssl.create_default_context(cadata=(tmp_path / "var/certs/ca/ca.crt").read_text())
        context.set_alpn_protocols(["h2"])
        with (
            socket.create_connection(("127.0.0.1", ports.xds), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.getpeercert()

        # The demo's per-player limit on /me, for the player of the token the banner prints,
        # decided by the rate-limit service in Redis. No token, no entry.
        token = re.search(rf"^\s*{SHELL_VARIABLE}=(\S+)$", banner, re.MULTILINE)
        assert token is not None, banner
        me = f"http://127.0.0.1:{ports.gateway}/me"
        player = {"authorization": f"Bearer {token[1]}"}
        with httpx.Client(timeout=5) as client:
            assert client.get(me).status_code == 401
            answers = [client.get(me, headers=player) for _ in range(11)]
        codes = [answer.status_code for answer in answers]
        assert codes == [200] * PLAYER_LIMIT + [429] * (11 - PLAYER_LIMIT)
        assert answers[0].headers["x-upstream"] == "players"
        assert answers[0].json()["headers"]["x-chaosgw-player-id"] == "player-7"

        # A session made through the admin API opens /account: both sides use the stack's Redis.
        admin = f"http://127.0.0.1:{ports.admin}/api/v1/sessions"
        session = httpx.post(admin, json={"player_id": "player-7"}, timeout=5).json()
        account = f"http://127.0.0.1:{ports.gateway}/account"
        cookie = {"cookie": f"chaosgw_session={session['session_id']}"}
        with httpx.Client(timeout=5) as client:
            opened = wait_for_response(client, account, headers=cookie, timeout=10)
            assert client.get(account).status_code == 401
        assert opened.json()["headers"]["x-chaosgw-player-id"] == "player-7"

        started = descendants(stack.pid)
        # Redis, the control plane, 3 upstreams, the rate-limit and auth launchers, Envoy, and
        # the launchers' processes.
        assert len(started) == 8 + RATELIMIT_PROCESSES + EXTAUTHZ_PROCESSES, started
        os.kill(stack.pid, stop_signal)  # the stack alone: it must stop its children itself
        wait_until(
            lambda: stack.returncode is not None,
            timeout=30,
            description="the stack to exit",
        )
        assert stack.returncode == 0
        wait_until(
            lambda: not [pid for pid in started if Path(f"/proc/{pid}").exists()],
            timeout=5,
            description=f"every process the stack started ({started}) to be gone",
        )
        assert not [p for p in ports.every() if port_accepts(p)], "a child outlived the stack"
        assert (tmp_path / "var" / "chaosgw.db").exists()
    finally:
        stack.stop()
