"""Upstream TLS: Envoy connects with the declared SNI and trusts only the declared CA."""

from pathlib import Path

import httpx
import pytest

from tests.integration.harness import upstream_of, wait_for_response
from tests.integration.stack import (  # noqa: F401 - fixtures
    Stack,
    forward_route,
    show_stack_logs,
    stack_fixture,
)
from tests.integration.tls_upstream import make_authority, tls_upstream, write_server_certificate

pytestmark = pytest.mark.integration

SNI = "shard-1.worlds.chaos.test"


def test_tls_upstream_with_sni_and_ca_and_a_wrong_ca_fails(stack: Stack, tmp_path: Path) -> None:
    authority, stranger = make_authority("Chaos test CA"), make_authority("Someone else")
    admin = stack.gateway.admin
    with tls_upstream(write_server_certificate(authority, SNI, tmp_path)) as server:
        endpoint = [{"host": "127.0.0.1", "port": server.port}]
        admin.create(
            "services",
            {"name": "worlds", "endpoints": endpoint, "tls": {"sni": SNI, "ca_pem": authority.pem}},
        )
        admin.create(
            "services",
            {
                "name": "untrusted",
                "endpoints": endpoint,
                "tls": {"sni": SNI, "ca_pem": stranger.pem},
            },
        )
        admin.create("routes", forward_route("worlds", "/worlds", "worlds"))
        admin.create("routes", forward_route("untrusted", "/untrusted", "untrusted"))
        with httpx.Client(timeout=5.0) as client:
            response = wait_for_response(
                client, stack.gateway.url("/worlds/1"), upstream="tls", alive=stack.gateway.alive()
            )
            assert response.json()["path"] == "/worlds/1"
            assert set(server.server_names) == {SNI}

            refused = wait_for_response(client, stack.gateway.url("/untrusted"), status=503)
            assert upstream_of(refused) is None
        envoy = stack.gateway.envoy
        assert envoy.stat("cluster.untrusted.ssl.fail_verify_error") >= 1
        assert envoy.stat("cluster.worlds.ssl.handshake") >= 1


def test_api_refuses_a_malformed_ca_pem(stack: Stack) -> None:
    broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    response = stack.gateway.admin.request(
        "POST",
        "/api/v1/services",
        json={
            "name": "broken-tls",
            "endpoints": [{"host": "127.0.0.1", "port": 9}],
            "tls": {"ca_pem": broken},
        },
    )

    assert response.status_code == 422, response.text
    (detail,) = response.json()["error"]["details"]
    assert detail["field"] == "tls.ca_pem"
    assert "not a PEM certificate bundle" in detail["message"]
    assert stack.gateway.admin.request("GET", "/api/v1/services/broken-tls").status_code == 404
