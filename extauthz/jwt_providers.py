"""JWT providers pushed by the control plane (`chaosgw.auth.v1.JwtProvider`), compiled for the
verifier: issuer, audiences, pinned algorithms, claim paths, token sources and the keys.

Keys are pinned to the provider's algorithms (the same rule Envoy's `jwt_authn` gets, see
controlplane.translator.auth_jwt.pinned_jwks) and indexed by (kid, alg): a token can only be
checked with a key of its own, accepted algorithm. `none` and HMAC are not among the algorithms
a provider can pin, so they never verify.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from chaosgw.auth.v1 import auth_pb2

from controlplane.model.auth_jwks import ALGORITHMS, parse_jwks
from controlplane.translator.auth_jwt import pinned_jwks
from extauthz.policies import InvalidResources

# (kid, alg) -> key; a key without `kid` is filed under "".
Keys = Mapping[tuple[str, str], jwt.PyJWK]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    issuer: str
    audiences: tuple[str, ...]
    algorithms: frozenset[str]
    leeway: int
    player_id_claim: tuple[str, ...]
    roles_claim: tuple[str, ...]
    tier_claim: tuple[str, ...]
    authorization_header: bool
    cookies: tuple[str, ...]
    query_parameter: str
    # The pushed key set, as text: tells a new push from a repeated one.
    jwks: str
    keys: Keys = field(repr=False)
    jwks_url: str
    discovery_url: str

    @property
    def remote(self) -> bool:
        return bool(self.jwks_url or self.discovery_url)


def keys_of(jwks: str, algorithms: Sequence[str]) -> dict[tuple[str, str], jwt.PyJWK]:
    """The usable keys of a JWKS document; ValueError when it is not a usable JWKS."""
    pinned: list[dict[str, Any]] = json.loads(pinned_jwks(parse_jwks(jwks), algorithms))["keys"]
    keys: dict[tuple[str, str], jwt.PyJWK] = {}
    for key in pinned:
        try:
            keys[key.get("kid", ""), key["alg"]] = jwt.PyJWK(key, algorithm=key["alg"])
        except jwt.PyJWTError as error:
            raise ValueError(f"key {key.get('kid', '')!r} is not usable: {error}") from None
    return keys


def compile_providers(messages: Sequence[auth_pb2.JwtProvider]) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    for message in messages:
        name = message.name
        if not name or name in providers:
            raise InvalidResources(f"JWT provider {name!r}: no name, or one seen twice")
        algorithms = frozenset(message.algorithms)
        if not algorithms or not algorithms <= set(ALGORITHMS):
            raise InvalidResources(f"JWT provider {name!r}: no or unsupported algorithms")
        if not message.issuer or not message.audiences or not message.roles_claim:
            raise InvalidResources(f"JWT provider {name!r}: no issuer, audience or roles claim")
        try:
            keys = keys_of(message.jwks, sorted(algorithms)) if message.jwks else {}
        except ValueError as error:
            raise InvalidResources(f"JWT provider {name!r}: {error}") from None
        providers[name] = Provider(
            name=name,
            issuer=message.issuer,
            audiences=tuple(message.audiences),
            algorithms=algorithms,
            leeway=max(message.clock_skew_seconds, 0),
            player_id_claim=_path(message.player_id_claim or "sub"),
            roles_claim=_path(message.roles_claim),
            tier_claim=_path(message.tier_claim) if message.tier_claim else (),
            authorization_header=message.authorization_header,
            cookies=tuple(message.cookies),
            query_parameter=message.query_parameter,
            jwks=message.jwks,
            keys=keys,
            jwks_url=message.jwks_url,
            discovery_url=message.discovery_url,
        )
    return providers


def _path(claim: str) -> tuple[str, ...]:
    return tuple(claim.split("."))
