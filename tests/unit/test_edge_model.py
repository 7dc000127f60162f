"""What the edge policy specs refuse, before anything reaches Envoy."""

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from controlplane.model import CertificateSpec
from controlplane.model.edge import ClientIps, CorsPolicy
from controlplane.model.transforms import HeaderChanges, HeaderValue, QueryParam


@pytest.mark.parametrize(
    "value",
    [
        "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
        "id-%REQ(x-request-id)%",
        "plain text; no formatter",
        "%PROTOCOL% %START_TIME%",
    ],
)
def test_allowed_header_values(value: str) -> None:
    assert HeaderValue(name="x-a", value=value).value == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("%UPSTREAM_HOST%", "is not allowed"),
        ("%DYNAMIC_METADATA(ns:key)%", "only starts a formatter"),
        ("100%", "only starts a formatter"),
        ("a\r\nx-injected: 1", "control characters"),
    ],
)
def test_refused_header_values(value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        HeaderValue(name="x-a", value=value)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: HeaderValue(name="host", value="x"), "host header"),
        (lambda: HeaderValue(name=":path", value="/x"), "string_pattern_mismatch|pattern"),
        (
            lambda: HeaderChanges(remove=["x-a"], set=[HeaderValue(name="x-a", value="1")]),
            "either removed",
        ),
        (lambda: QueryParam(name="a", value="b&c=d"), "pattern"),
        (lambda: ClientIps(allow=["10.0.0.1/8"]), "host bits"),
        (lambda: ClientIps(), "give allow or deny"),
        (
            lambda: CorsPolicy(allow_origins=["*"], allow_credentials=True),
            "named origins",
        ),
        (lambda: CorsPolicy(allow_origins=["play.chaos.example"]), "not an origin"),
    ],
)
def test_refused_policies(make: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        make()


def test_private_keys_stay_out_of_reprs_and_errors() -> None:
    key = "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"
    chain = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"
    spec = CertificateSpec(name="c", certificate_chain=chain, private_key=SecretStr(key))
    assert "QUJD\n-----END PRIVATE" not in repr(spec)
    # Only the stored JSON carries it.
    assert spec.model_dump(mode="json")["private_key"] == key
    with pytest.raises(ValidationError) as refused:
        CertificateSpec(name="c", certificate_chain="nope", private_key=SecretStr(key))
    assert "PRIVATE KEY" not in str(refused.value)
