"""Client IP allow / deny lists behind a trusted proxy, through the real Envoy.

Listener "public" trusts one proxy hop (a load balancer in front of the gateway that appends
the address it saw to X-Forwarded-For); listener "direct" trusts none, so what a client writes
in X-Forwarded-For changes nothing there.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.edge_gateway import edge_route, shared_gateway
from tests.integration.harness import (
    LOCALHOST,
    free_port,
    port_accepts,
    wait_for_response,
    wait_until,
)

pytestmark = pytest.mark.integration

CLIENT_IP_HEADER = {
    "request_headers": {
        "set": [{"name": "x-client-ip", "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}]
    }
}
PLAYERS = {"allow": ["203.0.113.0/24"], "deny": ["203.0.113.66/32"]}


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs of the listeners "public" (1 trusted hop) and "direct" (0)."""
    public = {"trusted_proxy_hops": 1, "transform": CLIENT_IP_HEADER}
    with shared_gateway(tmp_path_factory.mktemp("client-ips"), public) as gateway:
        direct_port = free_port()
        gateway.admin.create(
            "listeners",
            {
                "name": "direct",
                "address": LOCALHOST,
                "port": direct_port,
                "transform": CLIENT_IP_HEADER,
            },
        )
        for listener in ("public", "direct"):
            route = edge_route(f"players-{listener}", "/players", client_ips=PLAYERS)
            gateway.admin.create("routes", {**route, "listener": listener})
            open_route = edge_route(f"open-{listener}", "/open")
            gateway.admin.create("routes", {**open_route, "listener": listener})
        wait_until(
            lambda: port_accepts(direct_port),
            timeout=10.0,
            description="listener 'direct' to accept",
            alive=gateway.alive(),
        )
        direct = f"http://{LOCALHOST}:{direct_port}"
        with httpx.Client() as client:
            for base in (gateway.url(""), direct):
                wait_for_response(client, f"{base}/open", alive=gateway.alive())
        yield {"public": gateway.url(""), "direct": direct}


def get(url: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {} if forwarded_for is None else {"x-forwarded-for": forwarded_for}
    return httpx.get(url, headers=headers, timeout=5.0)


def seen_by_upstream(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    headers: dict[str, Any] = response.json()["headers"]
    return headers


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [
        # The trusted proxy appended the client's address: it decides.
        ("203.0.113.5", 200),
        ("203.0.113.66", 403),
        ("198.51.100.7", 403),
        # A client wrote an allowed address itself; the proxy appended the real one after it.
        ("203.0.113.5, 198.51.100.7", 403),
        # Whatever came before the proxy's entry does not matter either way.
        ("198.51.100.7, 203.0.113.5", 200),
        # Without the header (no proxy in between), the client is the peer, 127.0.0.1.
        (None, 403),
    ],
)
def test_with_one_trusted_hop_the_proxys_entry_decides(
    urls: dict[str, str], forwarded_for: str | None, status: int
) -> None:
    response = get(f"{urls['public']}/players", forwarded_for)

    assert response.status_code == status, response.text
    if forwarded_for is not None and status == 200:
        client_ip = forwarded_for.split(",")[-1].strip()
        assert seen_by_upstream(response)["x-client-ip"] == client_ip


def test_with_one_trusted_hop_the_client_address_reaches_the_upstream(
    urls: dict[str, str],
) -> None:
    headers = seen_by_upstream(get(f"{urls['public']}/open", "10.1.2.3, 198.51.100.7"))

    assert headers["x-client-ip"] == "198.51.100.7"
    # Envoy appended one entry for the peer it saw, the trusted proxy (for a loopback peer,
    # as here, Envoy appends its own host's address instead of 127.0.0.1).
    entries = [entry.strip() for entry in headers["x-forwarded-for"].split(",")]
    assert entries[:2] == ["10.1.2.3", "198.51.100.7"]
    assert len(entries) == 3


def test_without_trusted_hops_forwarded_for_is_ignored(urls: dict[str, str]) -> None:
    assert get(f"{urls['direct']}/players", "203.0.113.5").status_code == 403
    headers = seen_by_upstream(get(f"{urls['direct']}/open", "203.0.113.5"))
    assert headers["x-client-ip"] == LOCALHOST
