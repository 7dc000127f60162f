"""A JWT issuer for tests: RSA signing keys, tokens signed (or forged) by hand with
`cryptography`, and a tiny HTTP server publishing the JWKS and an OpenID Connect discovery
document, whose keys a test can rotate while it runs."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

LOCALHOST = "127.0.0.1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "n": _b64url_int(numbers.n),
            "e": _b64url_int(numbers.e),
        }

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        """An RS256 token; `header` overrides or adds header fields (alg, kid)."""
        signing_input = _signing_input(
            {"alg": "RS256", "typ": "JWT", "kid": self.kid, **header}, claims
        )
        signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input.decode()}.{b64url(signature)}"


def _signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    parts = (json.dumps(dict(header)).encode(), json.dumps(dict(claims)).encode())
    return ".".join(b64url(part) for part in parts).encode()


def unsigned(claims: Mapping[str, Any], kid: str) -> str:
    """`alg: none`: no signature at all."""
    return _signing_input({"alg": "none", "typ": "JWT", "kid": kid}, claims).decode() + "."


def hs256_with_public_key(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """Key confusion: HMAC-signed with the RSA public key as the shared secret."""
    signing_input = _signing_input({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims)
    mac = hmac.new(key.public_pem(), signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(mac)}"


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def claims_for(
    issuer: str, audience: str, subject: str, *, lifetime: float = 600, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + int(lifetime),
        "jti": uuid.uuid4().hex,
        **extra,
    }


class JwksServer:
    """Serves `/jwks.json` with the current keys and `/.well-known/openid-configuration`;
    its issuer is its own base URL. Counts the JWKS fetches."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body: dict[str, Any]
                if self.path == "/jwks.json":
                    server.fetches += 1
                    body = {"keys": [key.jwk() for key in server.keys]}
                elif self.path == "/.well-known/openid-configuration":
                    body = {"issuer": server.issuer, "jwks_uri": server.issuer + "/jwks.json"}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.issuer = f"http://{LOCALHOST}:{self._http.server_address[1]}"
        self.jwks_url = self.issuer + "/jwks.json"

    @contextmanager
    def running(self) -> Iterator["JwksServer"]:
        thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()
            thread.join(5)
