"""Opaque tokens checked by RFC 7662 introspection against a real (fake) provider over HTTP:
what is admitted and refused, what is kept and for how long, one call for concurrent checks,
and failing closed on every kind of bad answer."""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from chaosgw.auth.v1 import auth_pb2
from envoy.service.auth.v3 import external_auth_pb2

from authcontract import denials
from extauthz.identity import OAUTH2, Identity, Presented
from extauthz.introspection import Introspection, compile_introspectors
from extauthz.policies import InvalidResources, RoutePolicies, compile_policies
from extauthz.servicer import AuthorizationServicer
from tests.support.introspection_provider import IntrospectionProvider
from tests.support.waiting import eventually

OAUTH2_KIND = auth_pb2.RoutePolicy.OAUTH2_INTROSPECTION


class Clock:
    """Wall-clock seconds a test moves by hand; starts at the real time (tokens' `exp` do)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> Iterator[IntrospectionProvider]:
    with IntrospectionProvider().running() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def introspector(provider: IntrospectionProvider, name: str = "idp", **fields: Any) -> Any:
    values: dict[str, Any] = {
        "name": name,
        "introspection_url": provider.url,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "player_id_claim": "sub",
        "roles_claim": "scope",
        "max_cache_seconds": 300,
        "negative_cache_seconds": 5,
        "timeout_seconds": 1.0,
        **fields,
    }
    return auth_pb2.OAuth2Introspector(**values)


def verifier(
    http: httpx.AsyncClient, clock: Clock, *messages: Any, cache_size: int = 1000
) -> Introspection:
    introspection = Introspection(http, cache_size=cache_size, clock=clock)
    introspection.replace(compile_introspectors(messages))
    return introspection


def policy(*introspectors: str) -> Any:
    message = auth_pb2.RoutePolicy(
        route="profile", credentials=[OAUTH2_KIND], introspectors=introspectors or ["idp"]
    )
    return compile_policies([message])["profile"]


async def verify(introspection: Introspection, token: str, *names: str) -> Identity | str:
    return await introspection.verify(Presented(OAUTH2, token, "authorization"), policy(*names))


async def test_an_active_token_gives_its_identity_and_is_asked_about_once(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider, tier_claim="ext.tier"))
    token = provider.issue(sub="p-42", scope="play trade", ext={"tier": "gold"})

    first = await verify(introspection, token)
    second = await verify(introspection, token)

    assert isinstance(first, Identity)
    assert (first.kind, first.player_id, first.roles, first.tier) == (
        OAUTH2,
        "p-42",
        frozenset({"play", "trade"}),
        "gold",
    )
    assert second is first
    assert provider.calls_for(token) == 1
    assert provider.forms[-1] == {"token": [token], "token_type_hint": ["access_token"]}


async def test_roles_come_from_a_named_claim_as_a_list(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider, roles_claim="realm.roles"))
    token = provider.issue(realm={"roles": ["gm", "player"]})

    identity = await verify(introspection, token)

    assert isinstance(identity, Identity)
    assert identity.roles == frozenset({"gm", "player"})


async def test_an_answer_is_kept_until_the_tokens_exp_and_never_after(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue(lifetime=60)

    assert isinstance(await verify(introspection, token), Identity)
    clock.now += 59
    assert isinstance(await verify(introspection, token), Identity)
    assert provider.calls_for(token) == 1
    clock.now += 2
    # The provider (wrongly) still calls it active: its `exp` is past all the same.
    assert await verify(introspection, token) == denials.INACTIVE_TOKEN
    assert provider.calls_for(token) == 2


async def test_an_answer_is_kept_at_most_the_introspectors_cache_time(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider, max_cache_seconds=30))
    token = provider.issue(lifetime=3600)

    await verify(introspection, token)
    clock.now += 29
    await verify(introspection, token)
    assert provider.calls_for(token) == 1
    provider.revoke(token)
    clock.now += 2

    assert await verify(introspection, token) == denials.INACTIVE_TOKEN
    assert provider.calls_for(token) == 2


async def test_an_inactive_answer_is_kept_for_the_negative_cache_time(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider, negative_cache_seconds=5))

    assert await verify(introspection, "unknown-token") == denials.INACTIVE_TOKEN
    clock.now += 4
    assert await verify(introspection, "unknown-token") == denials.INACTIVE_TOKEN
    assert provider.calls_for("unknown-token") == 1
    clock.now += 2
    assert await verify(introspection, "unknown-token") == denials.INACTIVE_TOKEN
    assert provider.calls_for("unknown-token") == 2


async def test_a_token_not_yet_valid_is_inactive(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue(nbf=int(clock.now) + 60)

    assert await verify(introspection, token) == denials.INACTIVE_TOKEN


async def test_concurrent_checks_of_one_token_share_one_call(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue()
    provider.delay = 0.2

    results = await asyncio.gather(*(verify(introspection, token) for _ in range(20)))

    assert provider.calls_for(token) == 1
    assert all(isinstance(result, Identity) and result is results[0] for result in results)


async def test_a_check_cancelled_while_waiting_does_not_cancel_the_others(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue()
    provider.delay = 0.5
    first = asyncio.create_task(verify(introspection, token))
    second = asyncio.create_task(verify(introspection, token))
    # Cancel only once the shared call is in flight: both checks are waiting on it.
    await eventually(lambda: provider.calls_for(token), timeout=5, what="the introspection call")
    first.cancel()

    assert isinstance(await second, Identity)
    assert first.cancelled()
    assert provider.calls_for(token) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"active": true}'),
        (200, b"<html>not json</html>"),
        (200, b'["active"]'),
        (200, b'{"active": "true"}'),
        (200, b'{"active": true, "exp": "tomorrow"}'),
        (200, b'{"active": true, "sub": {"id": 1}}'),
        (200, b'{"active": true, "scope": 7}'),
    ],
)
async def test_a_bad_answer_fails_closed_and_is_not_kept(
    provider: IntrospectionProvider,
    http: httpx.AsyncClient,
    clock: Clock,
    status: int,
    body: bytes,
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue()
    provider.status, provider.body = status, body

    assert await verify(introspection, token) == denials.INTROSPECTION_UNAVAILABLE
    provider.status = provider.body = None
    assert isinstance(await verify(introspection, token), Identity)
    assert provider.calls_for(token) == 2


async def test_a_provider_down_slow_or_refusing_the_client_fails_closed(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    token = provider.issue()
    wrong_secret = verifier(http, clock, introspector(provider, client_secret="not-it"))
    assert await verify(wrong_secret, token) == denials.INTROSPECTION_UNAVAILABLE

    introspection = verifier(http, clock, introspector(provider, timeout_seconds=0.1))
    provider.delay = 0.5
    started = time.monotonic()
    assert await verify(introspection, token) == denials.INTROSPECTION_UNAVAILABLE
    assert time.monotonic() - started < 0.4

    provider.stop()
    assert await verify(introspection, token) == denials.INTROSPECTION_UNAVAILABLE


async def test_issuer_audience_and_scopes_are_checked(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(
        http,
        clock,
        introspector(
            provider,
            issuer=provider.issuer,
            audiences=["chaosgw", "game"],
            required_scopes=["play"],
        ),
    )

    def judged(**claims: Any) -> Any:
        return asyncio.ensure_future(verify(introspection, provider.issue(**claims)))

    assert isinstance(await judged(aud=["other", "game"]), Identity)
    assert await judged(aud="chaosgw", iss="https://elsewhere") == denials.TOKEN_NOT_ACCEPTED
    assert await judged(aud="elsewhere") == denials.TOKEN_NOT_ACCEPTED
    assert await judged(aud="game", scope="trade") == denials.INSUFFICIENT_SCOPE


async def test_introspectors_are_asked_in_order_and_one_that_cannot_answer_fails_closed(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    with IntrospectionProvider().running() as other:
        introspection = verifier(
            http, clock, introspector(provider, "first"), introspector(other, "second")
        )
        token = other.issue(sub="from-second")

        identity = await verify(introspection, token, "first", "second")
        assert isinstance(identity, Identity)
        assert identity.player_id == "from-second"
        assert await verify(introspection, "nobody", "first", "second") == "inactive_token"
        assert await verify(introspection, "nobody", "first", "absent") == (
            denials.INTROSPECTION_UNAVAILABLE
        )
        other.stop()
        assert await verify(introspection, "someone", "first", "second") == (
            denials.INTROSPECTION_UNAVAILABLE
        )


async def test_the_cache_is_bounded_and_keyed_by_a_hash_of_the_token(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider), cache_size=2)
    tokens = [provider.issue() for _ in range(3)]
    for token in tokens:
        await verify(introspection, token)

    await verify(introspection, tokens[0])  # the least recently used: forgotten

    assert [provider.calls_for(token) for token in tokens] == [2, 1, 1]
    kept = repr(introspection._kept)
    assert all(token not in kept and token.encode() not in kept.encode() for token in tokens)


async def test_a_changed_introspector_forgets_what_it_learnt(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue(scope="play")
    await verify(introspection, token)

    introspection.replace(compile_introspectors([introspector(provider)]))  # unchanged
    await verify(introspection, token)
    introspection.replace(compile_introspectors([introspector(provider, required_scopes=["x"])]))

    assert await verify(introspection, token) == denials.INSUFFICIENT_SCOPE
    assert provider.calls_for(token) == 2


async def test_no_token_and_no_secret_in_any_log_line(
    provider: IntrospectionProvider,
    http: httpx.AsyncClient,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    token = provider.issue()
    caplog.set_level(logging.DEBUG)
    provider.status, provider.body = 200, json.dumps({"active": True, "exp": token}).encode()
    await verify(introspection, token)
    provider.status = provider.body = None
    await verify(introspection, token)
    provider.stop()
    await verify(introspection, "another-token")

    assert caplog.records
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert token not in logged
    assert provider.client_secret not in logged


def test_sets_that_cannot_be_used_are_refused_without_quoting_the_secret() -> None:
    provider = IntrospectionProvider()
    good = introspector(provider)
    for bad in (
        [good, good],
        [introspector(provider, introspection_url="ftp://idp/introspect")],
        [introspector(provider, introspection_url="http://")],
        [introspector(provider, introspection_url="http://[::1")],
        [introspector(provider, client_id="")],
        [introspector(provider, timeout_seconds=0)],
        [introspector(provider, negative_cache_seconds=float("nan"))],
    ):
        with pytest.raises(InvalidResources) as refused:
            compile_introspectors(bad)
        assert provider.client_secret not in str(refused.value)
    assert provider.client_secret not in repr(compile_introspectors([good]))
    with pytest.raises(InvalidResources):
        compile_policies([auth_pb2.RoutePolicy(route="r", credentials=[OAUTH2_KIND])])


async def test_the_service_admits_a_bearer_token_and_answers_503_when_it_cannot_check(
    provider: IntrospectionProvider, http: httpx.AsyncClient, clock: Clock
) -> None:
    introspection = verifier(http, clock, introspector(provider))
    policies = RoutePolicies()
    policies.replace(
        compile_policies(
            [
                auth_pb2.RoutePolicy(
                    route="profile", credentials=[OAUTH2_KIND], introspectors=["idp"]
                )
            ]
        )
    )
    service = AuthorizationServicer(policies, {OAUTH2: introspection})
    token = provider.issue(sub="p-7")

    async def decide(value: str) -> external_auth_pb2.CheckResponse:
        request = external_auth_pb2.CheckRequest()
        request.attributes.context_extensions["route"] = "profile"
        request.attributes.request.http.headers["authorization"] = value
        return external_auth_pb2.CheckResponse.FromString(await service.decide(request))

    admitted = await decide(f"Bearer {token}")
    refused = await decide("Bearer unknown")
    provider.stop()
    unavailable = await decide("Bearer other")

    headers = {h.header.key: h.header.value for h in admitted.ok_response.headers}
    assert headers["x-chaosgw-player-id"] == "p-7"
    assert list(admitted.ok_response.headers_to_remove) == ["authorization"]
    assert refused.denied_response.status.code == 401
    assert json.loads(refused.denied_response.body)["error"]["code"] == "inactive_token"
    challenge = {h.header.key: h.header.value for h in refused.denied_response.headers}
    assert challenge["www-authenticate"] == 'Bearer realm="chaosgw"'
    assert unavailable.denied_response.status.code == 503
    assert json.loads(unavailable.denied_response.body)["error"]["code"] == (
        "introspection_unavailable"
    )
