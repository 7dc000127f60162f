"""A service's upstream TLS as the cluster's transport socket."""

from typing import Any

from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2

from controlplane.model import UpstreamTls
from controlplane.translator.protos import packed


def tls_transport_socket(tls: UpstreamTls, alpn: list[str]) -> dict[str, Any]:
    validation: dict[str, Any] = {"trusted_ca": {"inline_string": tls.ca_pem}}
    if tls.sni is not None:
        # Envoy checks only the CA unless told which name the certificate must carry.
        validation["match_typed_subject_alt_names"] = [
            {"san_type": common_pb2.SubjectAltNameMatcher.DNS, "matcher": {"exact": tls.sni}}
        ]
    context = tls_pb2.UpstreamTlsContext(
        sni=tls.sni or "",
        common_tls_context={"validation_context": validation, "alpn_protocols": alpn},
    )
    return {"name": "envoy.transport_sockets.tls", "typed_config": packed(context)}
