"""gRPC-Web through the real Envoy: a browser-style request (HTTP/1.1, framed body) reaches a
real gRPC upstream over HTTP/2, and the answer comes back as gRPC-Web, status in the trailers
frame."""

import struct
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.grpc_upstream import ECHO, FAIL, GrpcUpstream
from tests.integration.harness import free_port, port_accepts, wait_until
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    forward_route,
    show_stack_logs,
    stack_fixture,
)

pytestmark = pytest.mark.integration

GRPC_WEB = "application/grpc-web+proto"
DATA, TRAILERS = 0x00, 0x80


@pytest.fixture(scope="module")
def web_url(stack: Stack) -> Iterator[str]:
    """A listener with gRPC-Web on, routing the test service to a gRPC upstream."""
    upstream = GrpcUpstream(stack.processes, "web-a")
    upstream.wait_serving()
    admin = stack.gateway.admin
    port = free_port()
    admin.create(
        "listeners", {"name": "web", "address": "127.0.0.1", "port": port, "grpc_web": True}
    )
    admin.create(
        "services",
        {
            "name": "players-grpc",
            "protocol": "grpc",
            "endpoints": [{"host": "127.0.0.1", "port": upstream.port}],
        },
    )
    admin.create(
        "routes",
        {**forward_route("grpc-web", "/chaosgw.test.Upstream/", "players-grpc"), "listener": "web"},
    )
    wait_until(
        lambda: port_accepts(port),
        timeout=10.0,
        description="listener 'web' to accept",
        alive=stack.gateway.alive(),
    )
    yield f"http://127.0.0.1:{port}"
    upstream.close()


def frame(flag: int, payload: bytes) -> bytes:
    return struct.pack(">BI", flag, len(payload)) + payload


def frames(body: bytes) -> list[tuple[int, bytes]]:
    """The (flag, payload) frames of a gRPC-Web body; a frame cut short fails the test."""
    found, offset = [], 0
    while offset < len(body):
        flag, length = struct.unpack_from(">BI", body, offset)
        payload = body[offset + 5 : offset + 5 + length]
        assert len(payload) == length, f"truncated frame in {body!r}"
        found.append((flag, payload))
        offset += 5 + length
    return found


def trailers(payload: bytes) -> dict[str, str]:
    """A trailers frame holds HTTP/1-style header lines."""
    lines = payload.decode("ascii").split("\r\n")
    return {
        name.strip().lower(): value.strip()
        for name, value in (line.split(":", 1) for line in lines if line)
    }


def call(url: str, method: str, message: bytes) -> httpx.Response:
    # What grpc-web-javascript sends from a browser: HTTP/1.1, a framed body.
    with httpx.Client(timeout=5.0) as browser:
        return browser.post(
            f"{url}{method}",
            content=frame(DATA, message),
            headers={
                "content-type": GRPC_WEB,
                "x-grpc-web": "1",
                "x-user-agent": "grpc-web-javascript/0.1",
            },
        )


def test_grpc_web_request_reaches_the_grpc_upstream(web_url: str) -> None:
    def answered() -> httpx.Response | None:
        answer = call(web_url, ECHO, b"hello")
        return answer if answer.status_code == 200 else None

    response = wait_until(
        answered,
        timeout=10.0,
        description="the gRPC-Web route to answer",
        ignore=(httpx.TransportError,),
    )

    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"] == GRPC_WEB
    (data_flag, message), (trailer_flag, trailer_block) = frames(response.content)
    assert (data_flag, message) == (DATA, b"web-a:hello")
    assert trailer_flag == TRAILERS
    # The upstream's status and trailing metadata, as gRPC-Web trailers.
    assert trailers(trailer_block) == {
        "grpc-status": "0",
        "grpc-message": "",
        "x-upstream": "web-a",
    }


def test_grpc_error_reaches_the_browser_as_a_grpc_web_status(web_url: str) -> None:
    response = call(web_url, FAIL, b"player-7")

    # gRPC errors ride on HTTP 200; the status is gRPC's own.
    assert response.status_code == 200
    assert response.headers["content-type"] == GRPC_WEB
    # A trailers-only gRPC answer: Envoy sends its status as headers, with an empty body.
    assert response.headers["grpc-status"] == "5"
    assert response.headers["grpc-message"] == "no such player"
    assert frames(response.content) == []
