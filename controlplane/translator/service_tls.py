"""mTLS from Envoy to the gateway's own services: SDS secrets that name the files Envoy mounts
(CHAOSGW_ENVOY_TLS_DIR), never their bytes, and a cluster transport that checks the service's
identity. Envoy watches the directory, so rotated files are used without a new push."""

from typing import Any

from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2

from controlplane.translator.protos import packed
from tlsfiles.directory import CA_FILE, CERT_FILE, KEY_FILE
from tlsfiles.identities import service_uri

CLIENT_CERTIFICATE_NAME = "chaosgw-service-client"
CA_BUNDLE_NAME = "chaosgw-service-ca"


def service_secrets(tls_dir: str) -> list[Any]:
    """The client certificate and the CA bundle, as file names in Envoy's own file system."""
    watched = {"path": tls_dir}
    return [
        secret_pb2.Secret(
            name=CLIENT_CERTIFICATE_NAME,
            tls_certificate={
                "certificate_chain": {"filename": f"{tls_dir}/{CERT_FILE}"},
                "private_key": {"filename": f"{tls_dir}/{KEY_FILE}"},
                "watched_directory": watched,
            },
        ),
        secret_pb2.Secret(
            name=CA_BUNDLE_NAME,
            validation_context={
                "trusted_ca": {"filename": f"{tls_dir}/{CA_FILE}"},
                "watched_directory": watched,
            },
        ),
    ]


def service_transport_socket(service: str) -> dict[str, Any]:
    """TLS to `service` (extauthz, ratelimit): Envoy presents its client certificate and
    accepts only a certificate of the CA that names the service's identity."""
    ads = {"ads": {}, "resource_api_version": "V3"}
    context = tls_pb2.UpstreamTlsContext(
        common_tls_context={
            "alpn_protocols": ["h2"],
            "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
            "tls_certificate_sds_secret_configs": [
                {"name": CLIENT_CERTIFICATE_NAME, "sds_config": ads}
            ],
            "combined_validation_context": {
                "default_validation_context": {
                    "match_typed_subject_alt_names": [
                        {
                            "san_type": common_pb2.SubjectAltNameMatcher.URI,
                            "matcher": {"exact": service_uri(service)},
                        }
                    ]
                },
                "validation_context_sds_secret_config": {"name": CA_BUNDLE_NAME, "sds_config": ads},
            },
        }
    )
    return {"name": "envoy.transport_sockets.tls", "typed_config": packed(context)}
