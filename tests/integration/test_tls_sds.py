"""TLS termination with certificates delivered over SDS: rotation without a listener change."""

import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509

from tests.integration.edge_gateway import edge_route, shared_gateway
from tests.integration.harness import LOCALHOST, Gateway, wait_until
from tests.support.certificates import CertificateAuthority

pytestmark = pytest.mark.integration

HOST = "play.chaos.example"
CA = CertificateAuthority()
FIRST = CA.issue(HOST)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with shared_gateway(tmp_path_factory.mktemp("tls"), {}) as gateway:
        admin = gateway.admin
        admin.create(
            "certificates",
            {"name": "play", "certificate_chain": FIRST.chain, "private_key": FIRST.key},
        )
        admin.update(
            "listeners", "public", {**_listener(gateway), "tls": {"certificates": ["play"]}}
        )
        admin.create("routes", edge_route("echo", "/"))
        yield gateway


def _listener(gateway: Gateway) -> dict[str, object]:
    body, _ = gateway.admin.get("listeners", "public")
    return {k: v for k, v in body.items() if k != "metadata"}


def served_serial(port: int) -> int | None:
    """The serial of the certificate the listener presents to a new handshake."""
    context = ssl.create_default_context(cadata=CA.pem)
    try:
        with (
            socket.create_connection((LOCALHOST, port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_https_with_the_certificate_then_rotation_over_sds(gateway: Gateway) -> None:
    envoy = gateway.envoy
    wait_until(
        lambda: served_serial(gateway.port) == FIRST.serial,
        timeout=10,
        description="the listener to serve the first certificate",
        alive=gateway.alive(),
    )
    context = ssl.create_default_context(cadata=CA.pem)
    with httpx.Client(verify=context) as client:

        def hello() -> httpx.Response | None:
            answer = client.get(
                f"https://{LOCALHOST}:{gateway.port}/hello",
                headers={"host": HOST},
                extensions={"sni_hostname": HOST},
            )
            return answer if answer.status_code == 200 else None

        # The listener can be warm with routes from before the route was declared.
        response = wait_until(hello, timeout=5, description="the route over HTTPS")
    assert response.json()["upstream"] == "echo"
    modified = envoy.stat("listener_manager.listener_modified")
    listener_version = envoy.active_listener_version("public")

    second = CA.issue(HOST)
    gateway.admin.update(
        "certificates",
        "play",
        {"name": "play", "certificate_chain": second.chain, "private_key": second.key},
    )

    wait_until(
        lambda: served_serial(gateway.port) == second.serial,
        timeout=10,
        description="the next handshake to present the rotated certificate",
        alive=gateway.alive(),
    )
    assert envoy.stat("listener_manager.listener_modified") == modified
    assert envoy.active_listener_version("public") == listener_version


def test_bad_certificates_are_refused_and_keys_never_returned(gateway: Gateway) -> None:
    other = CA.issue("other.chaos.example")
    mismatched = gateway.admin.request(
        "POST",
        "/api/v1/certificates",
        json={"name": "mixed", "certificate_chain": FIRST.chain, "private_key": other.key},
    )
    assert mismatched.status_code == 422
    assert "does not belong" in mismatched.json()["error"]["message"]
    assert "PRIVATE KEY" not in mismatched.text

    garbage = gateway.admin.request(
        "POST",
        "/api/v1/certificates",
        json={"name": "bad", "certificate_chain": "not a pem", "private_key": other.key},
    )
    assert garbage.status_code == 422
    assert "PRIVATE KEY" not in garbage.text

    listed = gateway.admin.request("GET", "/api/v1/certificates")
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["items"]] == ["play"]
    assert "PRIVATE KEY" not in listed.text
    assert "private_key" not in listed.text

    in_use = gateway.admin.request("DELETE", "/api/v1/certificates/play")
    assert in_use.status_code == 409
    unknown = gateway.admin.request(
        "PUT",
        "/api/v1/listeners/public",
        json={**_listener(gateway), "tls": {"certificates": ["nope"]}},
        headers={"If-Match": "*"},
    )
    assert unknown.status_code == 422
