"""TLS: from Envoy to a service (SNI, trusted CAs), and certificates served to Envoy over SDS
for the listeners that terminate TLS with them."""

import re
import ssl
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    model_validator,
)

from controlplane.model.common import Hostname, Name, Spec

MAX_PEM_CHARS = 64 * 1024


def _check_ca_pem(value: str) -> str:
    if not value.isascii():
        raise ValueError("ca_pem is not PEM text: it holds non-ASCII characters")
    if "PRIVATE KEY" in value:
        raise ValueError("ca_pem holds a private key: give only the CA's certificates")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        # The same parser family as Envoy's (BoringSSL vs OpenSSL) on the same PEM text.
        context.load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError) as error:
        raise ValueError(f"ca_pem is not a PEM certificate bundle: {error}") from None
    return value


CaPem = Annotated[str, Field(min_length=1, max_length=MAX_PEM_CHARS), AfterValidator(_check_ca_pem)]


class UpstreamTls(Spec):
    sni: Hostname | None = Field(
        default=None,
        description="Server name sent in the handshake; the certificate must also name it.",
    )
    ca_pem: CaPem = Field(
        description="PEM certificates of the CAs trusted to sign the service's certificate."
    )


_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----\s+[A-Za-z0-9+/=\s]+?-----END \1-----"
)


def _check_chain(value: str) -> str:
    blocks = _CERTIFICATE.findall(value)
    if not blocks or _CERTIFICATE.sub("", value).strip():
        raise ValueError(
            "certificate_chain must be PEM: one or more '-----BEGIN CERTIFICATE-----' blocks, "
            "the server's certificate first, and nothing else"
        )
    return value


CertificateChain = Annotated[str, Field(max_length=64 * 1024), AfterValidator(_check_chain)]


class CertificateSpec(Spec):
    """A server certificate and its private key. The key is write-only: the API never returns
    it and it is never logged; it is stored in the database and sent to Envoy over SDS."""

    # Validation errors carry no input values, so the key never lands in an error or a log.
    model_config = ConfigDict(hide_input_in_errors=True)

    name: Name
    certificate_chain: CertificateChain
    private_key: SecretStr = Field(max_length=16 * 1024)

    @model_validator(mode="after")
    def _one_unencrypted_key(self) -> Self:
        # The message never quotes the key.
        key = self.private_key.get_secret_value()
        if "ENCRYPTED" in key:
            raise ValueError("private_key is encrypted; give it unencrypted (Envoy needs that)")
        if len(_PRIVATE_KEY.findall(key)) != 1 or _PRIVATE_KEY.sub("", key).strip():
            raise ValueError(
                "private_key must be exactly one PEM block: '-----BEGIN PRIVATE KEY-----' "
                "(PKCS#8), 'RSA PRIVATE KEY' or 'EC PRIVATE KEY'"
            )
        return self

    @field_serializer("private_key", when_used="json")
    def _stored_key(self, key: SecretStr) -> str:
        # JSON is what the store keeps; Python dumps and reprs keep it masked.
        return key.get_secret_value()


class ListenerTls(Spec):
    """TLS termination. With several certificates, Envoy picks the one whose names match the
    client's SNI (the first one when none does)."""

    certificates: list[Name] = Field(
        min_length=1, max_length=16, description="Names of certificate resources."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.certificates)) != len(self.certificates):
            raise ValueError("certificates names a certificate twice")
        return self
