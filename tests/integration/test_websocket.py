"""Route changes travel over RDS only: a player's open WebSocket survives every push, and a
route's idle timeout is what closes a silent one."""

import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import Gateway, route_spec, wait_for_response, wait_until

pytestmark = pytest.mark.integration

PUSHES = 30
SOCKET_SECONDS = 40.0
# Envoy counters that move when a listener is replaced, removed or drained.
LISTENER_CHURN = (
    "listener_manager.listener_modified",
    "listener_manager.listener_removed",
    "listener_manager.listener_in_place_updated",
    "listener_manager.total_listeners_draining",
)


def _chat_route(gateway: Gateway, idle_timeout_seconds: float) -> dict[str, Any]:
    spec = route_spec("chat", gateway.listener, "/chat", {"chat": 1})
    spec["idle_timeout_seconds"] = idle_timeout_seconds
    return spec


def _probe_target(push: int) -> str:
    return "green" if push % 4 == 1 else "blue"


def test_websocket_stays_open_for_40s_across_30_pushes(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    for name in ("chat", "blue", "green"):
        gateway.add_service(name, upstream(name))
    gateway.admin.create("routes", _chat_route(gateway, 600))
    gateway.add_route("probe", "/probe", {"blue": 1})
    wait_for_response(client, gateway.url("/chat"), upstream="chat", alive=gateway.alive())
    wait_for_response(client, gateway.url("/probe"), upstream="blue", alive=gateway.alive())

    envoy = gateway.envoy
    churn_before = {name: envoy.stat(name) for name in LISTENER_CHURN}
    listener_before = envoy.dynamic_listener("public")
    assert listener_before is not None
    assert "active_state" in listener_before

    with connect(gateway.url("/chat/room-1", scheme="ws"), open_timeout=5) as socket:
        # The upgrade went through Envoy to the chat upstream.
        assert socket.response is not None
        assert socket.response.headers.get("x-upstream") == "chat"
        opened = time.monotonic()
        socket.send("hello")
        assert socket.recv(timeout=5) == "hello"

        for push in range(PUSHES):
            before = envoy.route_config_versions()["public"]
            # Every other push changes the socket's own route, the others another route.
            if push % 2:
                gateway.set_route("probe", "/probe", {_probe_target(push): 1})
            else:
                gateway.admin.update("routes", "chat", _chat_route(gateway, 601 + push))
            wait_until(
                lambda: envoy.route_config_versions()["public"] != before,  # noqa: B023
                timeout=5.0,
                description=f"push {push + 1} to reach Envoy",
                alive=gateway.alive(),
            )
            socket.send(f"still here {push}")
            assert socket.recv(timeout=5) == f"still here {push}"
            # Spread the pushes over the socket's lifetime: a long-lived connection.
            time.sleep(max(0.0, opened + SOCKET_SECONDS * (push + 1) / PUSHES - time.monotonic()))

        assert time.monotonic() - opened >= SOCKET_SECONDS
        socket.send(b"\x00binary\xff")
        assert socket.recv(timeout=5) == b"\x00binary\xff"

    # The probe changes really reached traffic.
    last = _probe_target(PUSHES - 1 if PUSHES % 2 == 0 else PUSHES - 2)
    wait_for_response(client, gateway.url("/probe"), upstream=last, alive=gateway.alive())
    assert {name: envoy.stat(name) for name in LISTENER_CHURN} == churn_before
    listener_after = envoy.dynamic_listener("public")
    assert listener_after is not None
    # The same listener object is active: it was never replaced.
    assert listener_after["active_state"] == listener_before["active_state"]
    assert "warming_state" not in listener_after


def test_a_silent_websocket_is_closed_after_the_route_idle_timeout(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    gateway.add_service("chat", upstream("chat"))
    gateway.admin.create("routes", _chat_route(gateway, 1))
    wait_for_response(client, gateway.url("/chat"), upstream="chat", alive=gateway.alive())

    with connect(gateway.url("/chat/afk", scheme="ws"), open_timeout=5) as socket:
        opened = time.monotonic()
        socket.send("hello")
        assert socket.recv(timeout=5) == "hello"
        # Silent from now on: Envoy closes the stream about a second later.
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
        assert 1.0 <= time.monotonic() - opened < 5.0
