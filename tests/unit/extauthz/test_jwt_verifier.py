"""JWTs verified by the auth service: every refusal, rotation through an unknown-`kid` refetch
(rate limited, one fetch shared by concurrent misses) and the cache of verified tokens."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from chaosgw.auth.v1 import auth_pb2

from authcontract import denials
from extauthz.identity import JWT, Identity, Presented
from extauthz.jwt_providers import Provider, compile_providers
from extauthz.jwt_verifier import JwtVerifier, fetch_over_http
from extauthz.policies import InvalidResources, RoutePolicy
from tests.support.jwt_issuer import (
    JwksServer,
    SigningKey,
    claims_for,
    hs256_with_public_key,
    tampered,
    unsigned,
)

ISSUER = "https://login.chaos.example"
AUDIENCE = "chaos-world"
KEY = SigningKey("k1")
POLICY = RoutePolicy(
    route="r", accepts=frozenset({JWT}), required=(), challenge="", jwt_providers=frozenset({"idp"})
)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()
        self.monotonic = 1000.0


def provider_message(*keys: SigningKey, **fields: Any) -> auth_pb2.JwtProvider:
    values: dict[str, Any] = {
        "name": "idp",
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["RS256"],
        "clock_skew_seconds": 30,
        "player_id_claim": "sub",
        "roles_claim": "realm_access.roles",
        "tier_claim": "tier",
        "authorization_header": True,
        "jwks": json.dumps({"keys": [key.jwk() for key in keys]}),
        **fields,
    }
    return auth_pb2.JwtProvider(**values)


def verifier(
    *keys: SigningKey,
    fetch: Callable[[Provider], Any] | None = None,
    clock: Clock | None = None,
    **fields: Any,
) -> JwtVerifier:
    clock = clock or Clock()

    async def no_fetch(provider: Provider) -> str:
        raise AssertionError("no fetch expected")

    if fetch is None:  # the real fetch, from a real JWKS server, where the test names one
        fetch = fetch_over_http if "jwks_url" in fields else no_fetch
    made = JwtVerifier(
        fetch,
        clock=lambda: clock.now,
        monotonic=lambda: clock.monotonic,
        refetch_interval=10.0,
    )
    made.replace(compile_providers([provider_message(*(keys or (KEY,)), **fields)]))
    return made


def token(key: SigningKey = KEY, **changes: Any) -> str:
    claims = claims_for(ISSUER, AUDIENCE, "p-1", realm_access={"roles": ["player"]}, tier="gold")
    header = {name: changes.pop(name) for name in ("alg", "kid") if name in changes}
    claims.update(changes)
    return key.sign(claims, **header)


def bearer(value: str) -> Presented:
    return Presented(JWT, value, "authorization")


def verify(made: JwtVerifier, value: str, presented: Presented | None = None) -> Identity | str:
    return asyncio.run(made.verify(presented or bearer(value), POLICY))


def test_a_valid_token_gives_the_identity_of_its_claim_paths() -> None:
    identity = verify(verifier(), token())

    assert isinstance(identity, Identity)
    assert (identity.kind, identity.player_id, identity.roles, identity.tier) == (
        JWT,
        "p-1",
        frozenset({"player"}),
        "gold",
    )


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda: unsigned(claims_for(ISSUER, AUDIENCE, "p-1"), "k1"), denials.JWT_ALGORITHM),
        (lambda: hs256_with_public_key(KEY, claims_for(ISSUER, AUDIENCE, "p-1")), "alg"),
        (lambda: token(exp=int(time.time()) - 31), denials.JWT_EXPIRED),
        (lambda: token(nbf=int(time.time()) + 31), denials.JWT_NOT_YET_VALID),
        (lambda: token(iss="https://evil.example"), denials.JWT_ISSUER),
        (lambda: token(aud="another-game"), denials.JWT_AUDIENCE),
        (lambda: token(SigningKey("k9")), denials.JWT_UNKNOWN_KEY),
        (lambda: token(SigningKey("k1")), denials.JWT_SIGNATURE),
        (lambda: tampered(token(), sub="p-2"), denials.JWT_SIGNATURE),
        (lambda: token(alg="PS256"), denials.JWT_ALGORITHM),
        (lambda: token(exp="tomorrow"), denials.BAD_JWT),
        (lambda: "not.a.jwt", denials.BAD_JWT),
        (lambda: KEY.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "p"}), denials.BAD_JWT),
    ],
    ids=[
        "alg-none",
        "hs256-key-confusion",
        "expired-beyond-skew",
        "nbf-beyond-skew",
        "wrong-issuer",
        "wrong-audience",
        "unknown-kid",
        "other-key-same-kid",
        "tampered-payload",
        "unpinned-algorithm",
        "exp-not-a-number",
        "garbage",
        "no-exp",
    ],
)
def test_every_forgery_is_refused(forge: Callable[[], str], reason: str) -> None:
    refused = verify(verifier(), forge())

    assert refused == (denials.JWT_ALGORITHM if reason == "alg" else reason)


def test_the_clock_skew_is_allowed_on_exp_and_nbf() -> None:
    now = int(time.time())
    made = verifier()

    assert isinstance(verify(made, token(exp=now - 20)), Identity)
    assert isinstance(verify(made, token(nbf=now + 20)), Identity)


def test_a_token_is_read_only_from_where_its_provider_allows() -> None:
    made = verifier(authorization_header=False, cookies=["chaos_session"])
    value = token()
    cookie_policy = {"cookie": f"theme=dark; chaos_session={value}"}

    assert verify(made, value) == denials.JWT_SOURCE
    located = made.locate(cookie_policy, "/me", POLICY)
    assert located == Presented(JWT, value, "", source="cookie:chaos_session")
    assert isinstance(verify(made, value, located), Identity)
    # No query parameter allowed: nothing is found in the query string.
    assert made.locate({}, f"/me?access_token={value}", POLICY) is None


def test_a_query_parameter_token_is_found_where_allowed_and_removed_upstream() -> None:
    made = verifier(query_parameter="access_token")
    value = token()
    located = made.locate({}, f"/me?x=1&access_token={value}", POLICY)

    assert located == Presented(JWT, value, "?access_token", source="query:access_token")
    assert isinstance(verify(made, value, located), Identity)
    assert made.locate({}, f"/me?token={value}", POLICY) is None


def test_a_route_refuses_tokens_of_providers_it_does_not_name() -> None:
    made = verifier()
    value = token()
    other = RoutePolicy(
        route="o", accepts=frozenset({JWT}), required=(), challenge="", jwt_providers=frozenset()
    )

    assert isinstance(verify(made, value), Identity)  # now cached
    assert asyncio.run(made.verify(bearer(value), other)) == denials.JWT_ISSUER


def test_a_repeated_token_is_served_from_the_cache_until_it_expires() -> None:
    clock = Clock()
    made = verifier(clock=clock, clock_skew_seconds=0)
    value = token(exp=int(clock.now) + 60)

    first = verify(made, value)
    again = [verify(made, value) for _ in range(5)]
    assert made.signature_checks == 1
    assert all(identity is first for identity in again)

    clock.now += 61
    assert verify(made, value) == denials.JWT_EXPIRED
    assert made.signature_checks == 2


def test_the_cache_is_bounded() -> None:
    clock = Clock()
    made = JwtVerifier(clock=lambda: clock.now, cache_size=2)
    made.replace(compile_providers([provider_message(KEY)]))
    tokens = [token() for _ in range(3)]
    for value in tokens:
        verify(made, value)

    verify(made, tokens[0])  # the oldest was evicted: checked again
    assert made.signature_checks == 4


def test_an_unknown_kid_refetches_once_and_a_new_key_is_accepted() -> None:
    new = SigningKey("k2")
    clock = Clock()
    with JwksServer(KEY, new).running() as server:
        made = verifier(KEY, clock=clock, jwks_url=server.jwks_url)
        rotated = token(new)

        assert isinstance(verify(made, rotated), Identity)
        assert server.fetches == 1
        # A crafted kid: one fetch per provider per interval, however many tokens.
        for n in range(5):
            assert verify(made, token(SigningKey(f"crafted-{n}"))) == denials.JWT_UNKNOWN_KEY
        assert server.fetches == 1
        clock.monotonic += 10.0
        assert verify(made, token(SigningKey("k3"))) == denials.JWT_UNKNOWN_KEY
        assert server.fetches == 2


async def test_concurrent_misses_share_one_fetch() -> None:
    new = SigningKey("k2")
    fetches = 0
    release = asyncio.Event()

    async def slow_fetch(provider: Provider) -> str:
        nonlocal fetches
        fetches += 1
        await release.wait()
        return json.dumps({"keys": [KEY.jwk(), new.jwk()]})

    made = verifier(KEY, fetch=slow_fetch, jwks_url="https://login.chaos.example/jwks")
    checks = [asyncio.create_task(made.verify(bearer(token(new)), POLICY)) for _ in range(10)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*checks)

    assert fetches == 1
    assert all(isinstance(result, Identity) for result in results)


def test_a_push_removing_a_key_refuses_its_tokens_even_cached() -> None:
    new = SigningKey("k2")
    made = verifier(KEY, new)
    old_token = token(KEY)
    assert isinstance(verify(made, old_token), Identity)

    made.replace(compile_providers([provider_message(new)]))
    assert verify(made, old_token) == denials.JWT_UNKNOWN_KEY
    assert isinstance(verify(made, token(new)), Identity)


def test_keys_fetched_by_the_service_stay_until_the_control_plane_pushes_new_ones() -> None:
    new = SigningKey("k2")
    with JwksServer(KEY, new).running() as server:
        made = verifier(KEY, jwks_url=server.jwks_url)
        assert isinstance(verify(made, token(new)), Identity)
        # The same push again (another provider changed, say): the fetched keys stay.
        made.replace(compile_providers([provider_message(KEY, jwks_url=server.jwks_url)]))
        assert isinstance(verify(made, token(new)), Identity)
        assert server.fetches == 1


@pytest.mark.parametrize(
    "messages",
    [
        [provider_message(KEY)] * 2,
        [provider_message(KEY, algorithms=["HS256"])],
        [provider_message(KEY, algorithms=[])],
        [provider_message(KEY, issuer="")],
        [provider_message(KEY, jwks='{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')],
        [provider_message(KEY, jwks="not json")],
    ],
)
def test_a_bad_provider_set_is_refused_whole(messages: list[auth_pb2.JwtProvider]) -> None:
    with pytest.raises(InvalidResources):
        compile_providers(messages)
