"""Checks a certificate chain and its private key the way a TLS server loads them.

Python's `ssl` (OpenSSL) loads them only from files: they are written to an anonymous
in-memory file (`memfd`), so the private key never touches a disk.
"""

import contextlib
import hashlib
import os
import ssl
from collections.abc import Iterator


class KeyPairError(ValueError):
    """Why the chain and key cannot serve TLS; never quotes the key."""


def check_key_pair(chain: str, key: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with _in_memory(chain) as chain_path, _in_memory(key) as key_path:
        try:
            context.load_cert_chain(chain_path, key_path, password=_no_password)
        except ssl.SSLError as error:
            reason = error.reason or ""
            if "KEY_VALUES_MISMATCH" in reason:
                raise KeyPairError(
                    "private_key does not belong to the first certificate of certificate_chain"
                ) from None
            raise KeyPairError(
                f"certificate_chain or private_key cannot be loaded ({reason or 'invalid PEM'})"
            ) from None


def fingerprints(chain: str) -> list[str]:
    """SHA-256 fingerprints of the chain's certificates, in order, as `openssl x509` shows."""
    blocks = chain.split("-----END CERTIFICATE-----")[:-1]
    digests = []
    for block in blocks:
        der = ssl.PEM_cert_to_DER_cert(block.strip() + "\n-----END CERTIFICATE-----\n")
        digest = hashlib.sha256(der).hexdigest().upper()
        digests.append(":".join(digest[i : i + 2] for i in range(0, len(digest), 2)))
    return digests


def _no_password() -> str:
    # Never let OpenSSL prompt on the terminal for an encrypted key.
    raise KeyPairError("private_key is encrypted; give it unencrypted")


@contextlib.contextmanager
def _in_memory(text: str) -> Iterator[str]:
    descriptor = os.memfd_create("chaosgw-pem", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, text.encode())
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)
