"""A config Envoy rejects shows as a NACK with Envoy's own words, and breaks nothing."""

import socket
from typing import Any

import httpx
import pytest

from tests.integration.conftest import UpstreamFactory
from tests.integration.harness import (
    LISTENER_TYPE,
    Gateway,
    free_port,
    listener_spec,
    port_accepts,
    upstream_of,
    wait_for_response,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_listener_on_a_taken_port_is_nacked_and_traffic_goes_on(
    gateway: Gateway, upstream: UpstreamFactory, client: httpx.Client
) -> None:
    gateway.add_service("inv", upstream("inv"))
    gateway.add_service("inv2", upstream("inv2"))
    gateway.add_route("inv", "/inv", {"inv": 1})
    url = gateway.url("/inv")
    wait_for_response(client, url, upstream="inv", alive=gateway.alive())
    admin, envoy = gateway.admin, gateway.envoy

    def listeners() -> dict[str, Any]:
        """What /api/v1/nodes says about this node's listeners."""
        return admin.node_type(envoy.node_id, LISTENER_TYPE)

    good = wait_until(
        lambda: listeners().get("acked_version"),
        timeout=5.0,
        description="the node to ACK its listeners",
    )

    # Valid for the admin API, impossible for Envoy: another process holds the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        taken = free_port()
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        admin.create("listeners", listener_spec("blocked", taken))

        wait_until(
            lambda: listeners().get("nacked_version"),
            timeout=5.0,
            description="a NACK of the listeners at /api/v1/nodes",
            alive=gateway.alive(),
        )
        status = listeners()
        assert status["nacked_version"] == status["sent_version"] != good
        assert status["acked_version"] == good  # still the last config Envoy accepted
        error = status["nack_error"]
        assert "blocked" in error, error
        assert str(taken) in error, error
        assert "address already in use" in error.lower(), error
        assert envoy.stat("listener_manager.lds.update_rejected") >= 1

        # Envoy goes on with the previous config...
        assert {upstream_of(client.get(url)) for _ in range(20)} == {"inv"}
        assert "active_state" not in (envoy.dynamic_listener("blocked") or {})
        # ...and later changes still reach it.
        gateway.set_route("inv", "/inv", {"inv2": 1})
        wait_for_response(client, url, upstream="inv2", timeout=2.0, alive=gateway.alive())

    # The operator's fix, moving the listener to a free port, is accepted on the next push.
    moved = free_port()
    admin.update("listeners", "blocked", listener_spec("blocked", moved))

    def accepted() -> bool:
        status = listeners()
        return status.get("acked_version") not in (None, good) and (
            status["acked_version"] == status["sent_version"]
        )

    wait_until(
        accepted,
        timeout=5.0,
        description="the node to ACK the moved listener",
        alive=gateway.alive(),
    )
    wait_until(
        lambda: port_accepts(moved),
        timeout=5.0,
        description=f"Envoy to accept connections on the moved listener's port {moved}",
    )
    assert {upstream_of(client.get(url)) for _ in range(20)} == {"inv2"}
