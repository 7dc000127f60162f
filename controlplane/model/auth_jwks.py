"""JSON Web Key Sets (RFC 7517) as the gateway accepts them, and the algorithms it can pin.

A key set is checked before it is stored or pushed, so Envoy never receives keys it would
drop in silence (an unreadable inline JWKS makes Envoy refuse every token of its provider).
"""

import base64
import binascii
import json
from typing import Any, Literal, get_args

JwtAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
ALGORITHMS: tuple[str, ...] = get_args(JwtAlgorithm)
# Which key type each algorithm verifies with; EC keys also fix their curve.
KEY_TYPE = {alg: "RSA" for alg in ALGORITHMS if alg[0] in "RP"} | {
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
EC_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}
MIN_RSA_BITS = 2048
MAX_KEYS = 64


def check_jwks(document: Any) -> list[dict[str, Any]]:
    """The keys of a JWKS document; ValueError saying what is wrong with it."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object with a "keys" array')
    keys: list[dict[str, Any]] = document["keys"]
    if not keys:
        raise ValueError("the JWKS has no keys")
    if len(keys) > MAX_KEYS:
        raise ValueError(f"the JWKS has {len(keys)} keys; at most {MAX_KEYS} are accepted")
    for index, key in enumerate(keys):
        try:
            _check_key(key)
        except ValueError as error:
            raise ValueError(f"key {index} of the JWKS: {error}") from None
    return keys


def parse_jwks(text: str | bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError("the JWKS is not JSON") from None
    return check_jwks(document)


def _check_key(key: Any) -> None:
    if not isinstance(key, dict):
        raise ValueError("a key is a JSON object")
    kty = key.get("kty")
    if kty not in _MEMBERS:
        raise ValueError(f"key type {kty!r} is not one of RSA, EC, OKP")
    if key.get("use", "sig") != "sig":
        raise ValueError(f"use {key.get('use')!r} is not 'sig'")
    alg = key.get("alg")
    if alg is not None and KEY_TYPE.get(alg) != kty:
        raise ValueError(f"alg {alg!r} cannot be used with a {kty} key")
    if "kid" in key and not isinstance(key["kid"], str):
        raise ValueError("kid must be a string")
    for member in _MEMBERS[kty]:
        if not isinstance(key.get(member), str):
            raise ValueError(f"a {kty} key needs the string member {member!r}")
    if kty == "RSA":
        if len(_base64url(key["n"], "n")) * 8 < MIN_RSA_BITS:
            raise ValueError(f"RSA keys shorter than {MIN_RSA_BITS} bits are refused")
        _base64url(key["e"], "e")
    else:
        curves = set(EC_CURVE.values()) if kty == "EC" else {"Ed25519"}
        if key["crv"] not in curves:
            raise ValueError(f"curve {key['crv']!r} is not one of {', '.join(sorted(curves))}")
        for member in _MEMBERS[kty][1:]:
            _base64url(key[member], member)


def _base64url(value: str, member: str) -> bytes:
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"member {member!r} is not base64url") from None
    if not decoded:
        raise ValueError(f"member {member!r} is empty")
    return decoded
