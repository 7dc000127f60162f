"""JWT providers become the `jwt_authn` filter configuration, served over ECDS.

Every provider verifies with keys given inline: the inline set of a provider, or what the
control plane fetched for a remote one. Algorithms are pinned here, because `jwt_authn` has no
such setting: a key is handed to Envoy only for the provider's algorithms, each copy carrying
its `alg`, and Envoy uses a key only for tokens of its `alg`. `alg: none` and HMAC tokens never
verify: no key of type `oct` is ever given.

One requirement, "any provider", serves every protected route; which providers a route accepts
is checked by its RBAC policy. So routes never change this resource, only providers do.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from envoy.config.core.v3 import extension_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2

from authcontract.identity import PLAYER_ID_HEADER, TIER_HEADER
from controlplane.model import InlineJwks, JwtProviderSpec
from controlplane.model.auth_jwks import EC_CURVE, KEY_TYPE
from controlplane.translator.auth_filters import JWT_FILTER
from controlplane.translator.protos import packed

ANY_PROVIDER = "any-provider"
# Verified tokens remembered per worker: a cache hit skips the signature check.
JWT_CACHE_SIZE = 4096


def build_jwt_authn(
    providers: Sequence[JwtProviderSpec], fetched: Mapping[str, str]
) -> extension_pb2.TypedExtensionConfig:
    ordered = sorted(providers, key=lambda provider: provider.name)
    config = jwt_pb2.JwtAuthentication(
        providers={provider.name: _provider(provider, fetched) for provider in ordered}
    )
    if len(ordered) == 1:
        config.requirement_map[ANY_PROVIDER].provider_name = ordered[0].name
    elif ordered:
        config.requirement_map[ANY_PROVIDER].requires_any.requirements.extend(
            jwt_pb2.JwtRequirement(provider_name=provider.name) for provider in ordered
        )
    return extension_pb2.TypedExtensionConfig(name=JWT_FILTER, typed_config=packed(config))


def _provider(provider: JwtProviderSpec, fetched: Mapping[str, str]) -> Any:
    if isinstance(provider.jwks, InlineJwks):
        keys: list[dict[str, Any]] = provider.jwks.document["keys"]
    else:
        # Not fetched (yet): no key, so Envoy refuses the provider's tokens.
        keys = json.loads(fetched.get(provider.name, '{"keys": []}'))["keys"]
    sources = provider.token_sources
    claims = provider.claims
    # Roles are written by the route (auth_filters.identity_per_route): a list claim in
    # claim_to_headers would be base64 of its JSON.
    headers = [(PLAYER_ID_HEADER, claims.player_id)]
    if claims.tier is not None:
        headers.append((TIER_HEADER, claims.tier))
    return jwt_pb2.JwtProvider(
        issuer=provider.issuer,
        audiences=provider.audiences,
        require_expiration=True,
        local_jwks={"inline_string": pinned_jwks(keys, provider.algorithms)},
        # Explicit locations only: with none, Envoy would also read `?access_token=`.
        from_headers=(
            [{"name": "Authorization", "value_prefix": "Bearer "}]
            if sources.authorization_header
            else []
        ),
        from_cookies=sources.cookies,
        from_params=[sources.query_parameter] if sources.query_parameter else [],
        payload_in_metadata=provider.name,
        clock_skew_seconds=provider.clock_skew_seconds,
        jwt_cache_config={"jwt_cache_size": JWT_CACHE_SIZE},
        claim_to_headers=[
            {"header_name": header, "claim_name": claim} for header, claim in headers
        ],
    )


def pinned_jwks(keys: Sequence[Mapping[str, Any]], algorithms: Sequence[str]) -> str:
    """The keys usable with `algorithms`, one copy per algorithm, each naming its `alg`."""
    pinned = []
    for key in keys:
        for alg in sorted(algorithms):
            if key.get("alg", alg) != alg or KEY_TYPE[alg] != key.get("kty"):
                continue
            if alg in EC_CURVE and key.get("crv") != EC_CURVE[alg]:
                continue
            pinned.append({**key, "alg": alg})
    return json.dumps({"keys": pinned}, sort_keys=True, separators=(",", ":"))
