"""TLS from Envoy to a service: the name to ask for (SNI) and the CA that must have signed it."""

import ssl
from typing import Annotated

from pydantic import AfterValidator, Field

from controlplane.model.common import Hostname, Spec

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
