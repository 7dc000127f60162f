"""`chaosgw certs kubernetes` against a fake Kubernetes API that keeps Secrets like the real one
(GET 404 for a missing Secret, POST 201, 409 AlreadyExists, base64 data)."""

import base64
import json
from typing import Any

import httpx
import pytest
from cryptography import x509

from tlsfiles.identities import Identity as PeerIdentity
from tlsfiles.kubernetes import Identity, KubernetesError, SecretsApi, ensure

NAMESPACE = "chaos"
PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets"
IDENTITIES = [
    Identity.parse("xds=spiffe://chaosgw/service/controlplane,gw-xds,gw-xds.chaos.svc"),
    Identity.parse("envoy-edge=spiffe://chaosgw/group/edge"),
    Identity.parse("extauthz=spiffe://chaosgw/service/extauthz,gw-extauthz.chaos.svc"),
]


class FakeApi:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith(f"{PATH}/"):
            name = request.url.path.rsplit("/", 1)[1]
            if name not in self.secrets:
                return httpx.Response(404, json={"kind": "Status", "reason": "NotFound"})
            return httpx.Response(200, json=self.secrets[name])
        if request.method == "POST" and request.url.path == PATH:
            body = json.loads(request.content)
            name = body["metadata"]["name"]
            if name in self.secrets:
                return httpx.Response(409, json={"message": f'secrets "{name}" already exists'})
            self.writes += 1
            self.secrets[name] = body
            return httpx.Response(201, json=body)
        return httpx.Response(403, json={"message": f"forbidden: {request.method} {request.url}"})

    def data(self, name: str) -> dict[str, bytes]:
        return {k: base64.b64decode(v) for k, v in self.secrets[name]["data"].items()}


@pytest.fixture
def fake() -> FakeApi:
    return FakeApi()


def api_of(fake: FakeApi) -> SecretsApi:
    client = httpx.Client(base_url="https://k8s.test", transport=httpx.MockTransport(fake.handle))
    return SecretsApi(client, NAMESPACE)


def test_first_run_creates_a_ca_and_tls_secrets_signed_by_it(fake: FakeApi) -> None:
    created = ensure(api_of(fake), "gw", IDENTITIES, leaf_hours=48)
    assert created == ["gw-ca", "gw-xds-tls", "gw-envoy-edge-tls", "gw-extauthz-tls"]
    ca = x509.load_pem_x509_certificate(fake.data("gw-ca")["ca.crt"])
    for name in created[1:]:
        secret = fake.secrets[name]
        assert secret["type"] == "kubernetes.io/tls"
        data = fake.data(name)
        assert set(data) == {"ca.crt", "tls.crt", "tls.key"}
        assert data["ca.crt"] == fake.data("gw-ca")["ca.crt"]
        leaf = x509.load_pem_x509_certificate(data["tls.crt"])
        leaf.verify_directly_issued_by(ca)
    edge = x509.load_pem_x509_certificate(fake.data("gw-envoy-edge-tls")["tls.crt"])
    assert PeerIdentity.of_certificate(edge).groups == {"edge"}
    xds = x509.load_pem_x509_certificate(fake.data("gw-xds-tls")["tls.crt"])
    names = xds.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "gw-xds.chaos.svc" in names.get_values_for_type(x509.DNSName)
    lifetime = edge.not_valid_after_utc - edge.not_valid_before_utc
    assert lifetime.days <= 3


def test_a_second_run_keeps_everything(fake: FakeApi) -> None:
    ensure(api_of(fake), "gw", IDENTITIES, leaf_hours=48)
    before = {name: fake.data(name) for name in fake.secrets}
    writes = fake.writes
    assert ensure(api_of(fake), "gw", IDENTITIES, leaf_hours=48) == []
    assert fake.writes == writes
    assert {name: fake.data(name) for name in fake.secrets} == before


def test_a_new_identity_is_signed_by_the_kept_ca(fake: FakeApi) -> None:
    ensure(api_of(fake), "gw", IDENTITIES[:1], leaf_hours=48)
    ca = fake.data("gw-ca")
    assert ensure(api_of(fake), "gw", IDENTITIES, leaf_hours=48) == [
        "gw-envoy-edge-tls",
        "gw-extauthz-tls",
    ]
    assert fake.data("gw-ca") == ca
    leaf = x509.load_pem_x509_certificate(fake.data("gw-extauthz-tls")["tls.crt"])
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca["ca.crt"]))


def test_a_refusal_names_the_secret_and_the_reason() -> None:
    def forbid(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "secrets is forbidden: no RBAC"})

    client = httpx.Client(base_url="https://k8s.test", transport=httpx.MockTransport(forbid))
    with pytest.raises(KubernetesError, match=r"reading Secret gw-ca: HTTP 403: .*no RBAC"):
        ensure(SecretsApi(client, NAMESPACE), "gw", IDENTITIES, leaf_hours=48)


def test_identity_parsing() -> None:
    parsed = Identity.parse("extauthz=spiffe://chaosgw/service/extauthz,a.svc,b.svc")
    assert parsed == Identity(
        "extauthz", ("spiffe://chaosgw/service/extauthz",), ("a.svc", "b.svc")
    )
    with pytest.raises(ValueError, match="expected NAME=URI"):
        Identity.parse("extauthz")
