"""Route changes travel over RDS only: a player's open WebSocket survives every push."""

import httpx
import pytest
from websockets.sync.client import connect

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import Gateway, wait_for_response

pytestmark = pytest.mark.integration

ROUTE_CHANGES = 20
# Envoy counters that move when a listener is replaced, removed or drained.
LISTENER_CHURN = (
    "listener_manager.listener_modified",
    "listener_manager.listener_removed",
    "listener_manager.listener_in_place_updated",
    "listener_manager.total_listeners_draining",
)


def test_websocket_stays_open_across_route_changes(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    chat = upstream("chat")
    blue, green = upstream("blue"), upstream("green")
    gateway.add_service("chat", chat)
    gateway.add_service("blue", blue)
    gateway.add_service("green", green)
    gateway.add_route("chat", "/chat", {"chat": 1})
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
        socket.send("hello")
        assert socket.recv(timeout=5) == "hello"

        for change in range(ROUTE_CHANGES):
            target = "green" if change % 2 == 0 else "blue"
            gateway.set_route("probe", "/probe", {target: 1})
            # The change has reached Envoy once traffic on the other path has moved.
            wait_for_response(client, gateway.url("/probe"), upstream=target, alive=gateway.alive())
            socket.send(f"still here {change}")
            assert socket.recv(timeout=5) == f"still here {change}"

        socket.send(b"\x00binary\xff")
        assert socket.recv(timeout=5) == b"\x00binary\xff"

    assert {name: envoy.stat(name) for name in LISTENER_CHURN} == churn_before
    listener_after = envoy.dynamic_listener("public")
    assert listener_after is not None
    # The same listener object is active: it was never replaced.
    assert listener_after["active_state"] == listener_before["active_state"]
    assert "warming_state" not in listener_after
