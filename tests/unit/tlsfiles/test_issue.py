"""Issuing: ECDSA P-256 leaves signed by the CA, for server and/or client use."""

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlsfiles.issue import LeafRequest, issue_leaf, new_ca


def test_a_leaf_is_signed_by_its_ca_and_names_its_hosts() -> None:
    ca = new_ca()
    leaf = issue_leaf(ca, LeafRequest("cp", hosts=("cp.example", "127.0.0.1"), server=True))
    certificate = x509.load_pem_x509_certificate(leaf.certificate)
    ca_certificate = x509.load_pem_x509_certificate(ca.certificate)
    certificate.verify_directly_issued_by(ca_certificate)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["cp.example"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"


def test_the_ca_may_sign_and_leaves_may_not() -> None:
    ca = new_ca()
    leaf = issue_leaf(ca, LeafRequest("envoy", client=True))
    constraints = [
        x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
            x509.BasicConstraints
        )
        for pem in (ca.certificate, leaf.certificate)
    ]
    assert [c.value.ca for c in constraints] == [True, False]
