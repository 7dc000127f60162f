"""A JWT issuer for the development stack's demo, and nothing else.

`chaosgw run` makes a fresh RSA key in memory at every start (it is never written anywhere),
declares its public half inline in the `demo` JWT provider and prints a token for a demo
player, so that a per-player rate limit can be seen counting someone the gateway verified.
Whoever can read that banner can act as the demo player: development only.
"""

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://demo.chaosgw.invalid"
AUDIENCE = "chaos-world"
DAY = 24 * 60 * 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class DemoIssuer:
    """Signs RS256 tokens with a key of its own; `kid` is new with every key, so a token from
    an earlier run is refused as signed by an unknown key."""

    private: rsa.RSAPrivateKey = field(default_factory=_new_key, repr=False)
    kid: str = field(default_factory=lambda: f"demo-{secrets.token_hex(4)}")

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        numbers = self.private.public_key().public_numbers()
        key = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [{**key, "n": _b64url_int(numbers.n), "e": _b64url_int(numbers.e)}]}

    def token(self, subject: str, lifetime: int = DAY) -> str:
        """A token for `subject` (its `sub`), valid `lifetime` seconds from now."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + lifetime}
        parts = (json.dumps(part, separators=(",", ":")).encode() for part in (header, claims))
        signing_input = ".".join(_b64url(part) for part in parts).encode()
        signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{_b64url(signature)}"
