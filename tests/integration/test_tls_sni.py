"""Several certificates on one TLS listener: Envoy presents the one whose name the client asked
for (SNI), and the first one to a client that asks for no name it has."""

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

CA = CertificateAuthority()
PLAY, API = "play.chaos.example", "api.chaos.example"
ISSUED = {"play": CA.issue(PLAY), "api": CA.issue(API)}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with shared_gateway(tmp_path_factory.mktemp("sni"), {}) as gateway:
        admin = gateway.admin
        for name, issued in ISSUED.items():
            admin.create(
                "certificates",
                {"name": name, "certificate_chain": issued.chain, "private_key": issued.key},
            )
        body, _ = admin.get("listeners", "public")
        listener = {k: v for k, v in body.items() if k != "metadata"}
        admin.update("listeners", "public", {**listener, "tls": {"certificates": ["play", "api"]}})
        admin.create("routes", edge_route("echo", "/"))
        # The listener (LDS) and the route (RDS) arrive separately: wait for both.
        wait_until(
            lambda: names(served(gateway.port, API)) == [API] and routed(gateway.port, API),
            timeout=10,
            description="the TLS listener to present the api certificate and route /hello",
            alive=gateway.alive(),
        )
        yield gateway


def request(port: int, host: str) -> httpx.Response:
    """GET /hello over TLS as a client that verifies the CA and the name `host`."""
    context = ssl.create_default_context(cadata=CA.pem)
    with httpx.Client(verify=context) as client:
        return client.get(
            f"https://{LOCALHOST}:{port}/hello",
            headers={"host": host},
            extensions={"sni_hostname": host},
        )


def routed(port: int, host: str) -> bool:
    try:
        return request(port, host).status_code == 200
    except httpx.HTTPError:
        return False


def served(port: int, server_name: str | None) -> x509.Certificate | None:
    """The certificate a new handshake asking for `server_name` gets (unverified: the test
    looks at which one it is)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((LOCALHOST, port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return None if der is None else x509.load_der_x509_certificate(der)


def names(certificate: x509.Certificate | None) -> list[str]:
    if certificate is None:
        return []
    extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    found: list[str] = extension.value.get_values_for_type(x509.DNSName)
    return found


def test_each_name_gets_its_own_certificate(gateway: Gateway) -> None:
    for name, host in (("play", PLAY), ("api", API)):
        certificate = served(gateway.port, host)
        assert certificate is not None
        assert certificate.serial_number == ISSUED[name].serial
        # A client that verifies (the CA, the name) completes the request.
        response = request(gateway.port, host)
        assert response.status_code == 200
        assert response.json()["upstream"] == "echo"


@pytest.mark.parametrize("server_name", [None, "other.chaos.example"])
def test_a_name_without_a_certificate_gets_the_first(
    gateway: Gateway, server_name: str | None
) -> None:
    assert names(served(gateway.port, server_name)) == [PLAY]
