"""Envoy → extauthz/ratelimit over mTLS: with CHAOSGW_ENVOY_TLS_DIR, every group gets two SDS
secrets naming Envoy's own certificate files (never key bytes), and each service cluster
accepts only its service's identity."""

from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from controlplane.translator import ExtAuthzService, RateLimitService, translate
from controlplane.translator.auth_extauthz import SERVICE_CLUSTER as EXTAUTHZ_CLUSTER
from controlplane.translator.ratelimits import SERVICE_CLUSTER as RATELIMIT_CLUSTER
from controlplane.translator.service_tls import CA_BUNDLE_NAME, CLIENT_CERTIFICATE_NAME
from tests.unit.translator.golden_state import EDGE, plain_state
from tlsfiles.identities import service_uri

TLS_DIR = "/etc/chaosgw/envoy-tls"


def test_service_clusters_use_mtls_with_file_named_secrets() -> None:
    resources = translate(
        plain_state(),
        RateLimitService.of(["10.0.0.9:8081"], 0.1, False, TLS_DIR),
        ExtAuthzService.of(["10.0.0.8:9001"], 0.2, TLS_DIR),
    )[EDGE].decoded()
    secrets = {secret.name: secret for secret in resources["secrets"]}
    assert set(secrets) == {CLIENT_CERTIFICATE_NAME, CA_BUNDLE_NAME}
    certificate = secrets[CLIENT_CERTIFICATE_NAME].tls_certificate
    assert certificate.private_key.filename == f"{TLS_DIR}/tls.key"
    assert certificate.certificate_chain.filename == f"{TLS_DIR}/tls.crt"
    assert certificate.watched_directory.path == TLS_DIR
    assert secrets[CA_BUNDLE_NAME].validation_context.trusted_ca.filename == f"{TLS_DIR}/ca.crt"
    assert "PRIVATE KEY" not in str(resources["secrets"])

    clusters = {cluster.name: cluster for cluster in resources["clusters"]}
    for name, service in ((RATELIMIT_CLUSTER, "ratelimit"), (EXTAUTHZ_CLUSTER, "extauthz")):
        context = tls_pb2.UpstreamTlsContext()
        assert clusters[name].transport_socket.typed_config.Unpack(context)
        common = context.common_tls_context
        assert [c.name for c in common.tls_certificate_sds_secret_configs] == [
            CLIENT_CERTIFICATE_NAME
        ]
        validation = common.combined_validation_context
        assert validation.validation_context_sds_secret_config.name == CA_BUNDLE_NAME
        (matcher,) = validation.default_validation_context.match_typed_subject_alt_names
        assert matcher.matcher.exact == service_uri(service)


def test_without_a_tls_dir_the_services_stay_plaintext() -> None:
    resources = translate(plain_state(), RateLimitService.of(["10.0.0.9:8081"], 0.1, False))[
        EDGE
    ].decoded()
    assert resources["secrets"] == []
    (cluster,) = [c for c in resources["clusters"] if c.name == RATELIMIT_CLUSTER]
    assert not cluster.HasField("transport_socket")
