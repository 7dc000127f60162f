"""Certificates become SDS secrets, which listeners fetch by name over ADS.

A rotated certificate is a changed secret: Envoy swaps it into the running listener, and the
next TLS handshake presents it; the listener itself is not modified, so nothing drains.
"""

from typing import Any

from envoy.extensions.transport_sockets.tls.v3 import secret_pb2

from controlplane.model import CertificateSpec


def build_secret(certificate: CertificateSpec) -> Any:
    return secret_pb2.Secret(
        name=certificate.name,
        tls_certificate={
            "certificate_chain": {"inline_string": certificate.certificate_chain},
            "private_key": {"inline_string": certificate.private_key.get_secret_value()},
        },
    )
