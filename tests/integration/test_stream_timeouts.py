"""A listener's stream idle and request timeouts in the real Envoy, and how a route's idle
timeout replaces the first: silent streams end, talking ones (WebSockets) live on."""

import socket
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.harness import (
    LOCALHOST,
    Upstream,
    free_port,
    port_accepts,
    wait_for_response,
    wait_until,
)
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    behave,
    forward_route,
    show_stack_logs,
    stack_fixture,
)

pytestmark = pytest.mark.integration

IDLE_SECONDS = 0.5
REQUEST_SECONDS = 1.5
# Envoy arms timers from its event loop's cached clock: they may fire a few ms early.
EARLY = 0.05


@pytest.fixture(scope="module")
def timed(stack: Stack) -> tuple[str, Upstream]:
    """Listener "timed" (short timeouts) with routes /idle (the listener's idle timeout) and
    /patient (a route idle timeout of 0: never), both to one upstream."""
    upstream = stack.upstream("timed")
    admin = stack.gateway.admin
    admin.create(
        "services", {"name": "timed", "endpoints": [{"host": LOCALHOST, "port": upstream.port}]}
    )
    port = free_port()
    admin.create(
        "listeners",
        {
            "name": "timed",
            "address": LOCALHOST,
            "port": port,
            "stream_idle_timeout_seconds": IDLE_SECONDS,
            "request_timeout_seconds": REQUEST_SECONDS,
        },
    )
    for name, fields in (("idle", {}), ("patient", {"idle_timeout_seconds": 0})):
        route = {**forward_route(f"timed-{name}", f"/{name}", "timed"), "listener": "timed"}
        admin.create("routes", {**route, **fields})
    wait_until(
        lambda: port_accepts(port),
        timeout=10.0,
        description="listener 'timed' to accept",
        alive=stack.gateway.alive(),
    )
    base = f"http://{LOCALHOST}:{port}"
    with httpx.Client() as client:
        for path in ("/idle", "/patient"):
            wait_for_response(client, base + path, alive=stack.gateway.alive())
    return base, upstream


def test_a_request_waiting_in_silence_ends_with_504(timed: tuple[str, Upstream]) -> None:
    base, upstream = timed
    behave(upstream, delay_seconds=3)
    try:
        started = time.monotonic()
        response = httpx.get(f"{base}/idle", timeout=5.0)
        waited = time.monotonic() - started
    finally:
        behave(upstream)
    # The request had arrived whole: Envoy answers 504 for the silence upstream.
    assert response.status_code == 504
    assert response.text == "stream timeout"
    assert IDLE_SECONDS - EARLY <= waited < 2.0, waited


def test_a_client_sending_its_body_too_slowly_ends_with_408(timed: tuple[str, Upstream]) -> None:
    base, _ = timed
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection((LOCALHOST, port), timeout=5) as raw:
        started = time.monotonic()
        raw.sendall(b"POST /idle HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n")
        answer = b""
        # One byte every 0.2 s: never idle, but never done either.
        for _ in range(40):
            raw.sendall(b"x")
            raw.settimeout(0.2)
            try:
                answer = raw.recv(4096)
            except TimeoutError:
                continue
            break
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert answer.endswith(b"request timeout"), answer
    assert REQUEST_SECONDS - EARLY <= waited < REQUEST_SECONDS + 1.0, waited


def test_websockets_live_while_they_talk_and_end_when_silent(timed: tuple[str, Upstream]) -> None:
    base, _ = timed
    ws = base.replace("http://", "ws://")
    with (
        # On a route with idle_timeout_seconds 0 even a silent socket stays.
        connect(f"{ws}/patient/chat", open_timeout=5) as patient,
        connect(f"{ws}/idle/chat", open_timeout=5) as talking,
    ):
        opened = time.monotonic()
        # Three times the idle timeout, one message every fifth of it.
        while time.monotonic() - opened < 3 * IDLE_SECONDS:
            talking.send("ping")
            assert talking.recv(timeout=2) == "ping"
            time.sleep(IDLE_SECONDS / 5)

        # From now on silent: the listener's idle timeout closes it.
        silent_since = time.monotonic()
        with pytest.raises(ConnectionClosed):
            talking.recv(timeout=5)
        # Envoy then waits up to its delayed-close timeout (1 s) for the client to close.
        assert IDLE_SECONDS - EARLY <= time.monotonic() - silent_since < IDLE_SECONDS + 2.0

        assert time.monotonic() - opened > 4 * IDLE_SECONDS
        patient.send("still here")
        assert patient.recv(timeout=2) == "still here"
