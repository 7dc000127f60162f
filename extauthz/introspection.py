"""OAuth 2.0 token introspection (RFC 7662): opaque access tokens, checked at their provider.

The first check of a token POSTs it to the provider's introspection endpoint (HTTP Basic client
authentication, one HTTP client per process so connections are reused); the answer is kept in
memory until the token's `exp` (at most the introspector's `max_cache_seconds`), an inactive
one for `negative_cache_seconds`, so a token seen before costs no I/O. Entries are keyed by a
keyed hash of the token, never the token itself; the cache is bounded (least recently used
entries go first). Concurrent checks of one token share one call. A provider that is down, slow
or gives a bad answer makes the check fail closed (503), and that is not kept.
"""

import asyncio
import base64
import hashlib
import logging
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx
from chaosgw.auth.v1 import auth_pb2

from authcontract import denials
from extauthz import metrics
from extauthz.identity import OAUTH2, Identity, Presented
from extauthz.policies import InvalidResources, RoutePolicy

log = logging.getLogger(__name__)

# The claim holding the token's space-separated scopes (RFC 7662 section 2.2).
SCOPE = ("scope",)
# Metric children looked up once, not on every check.
_CACHE = {
    result: metrics.INTROSPECTION_CACHE.labels(result=result)
    for result in ("hit", "miss", "shared")
}
_CALLS = {
    outcome: metrics.INTROSPECTION_CALLS.labels(outcome=outcome)
    for outcome in ("active", "inactive", "error")
}


@dataclass(frozen=True, slots=True)
class Introspector:
    name: str
    url: str
    # `Basic base64(client_id:client_secret)`: the only place the secret is kept.
    authorization: str = field(repr=False)
    issuer: str
    audiences: frozenset[str]
    required_scopes: frozenset[str]
    player_id_claim: tuple[str, ...]
    roles_claim: tuple[str, ...]
    tier_claim: tuple[str, ...]
    max_cache_seconds: float
    negative_cache_seconds: float
    timeout_seconds: float


def compile_introspectors(
    messages: Sequence[auth_pb2.OAuth2Introspector],
) -> dict[str, Introspector]:
    """The introspectors by name. Refusals name the introspector and never quote its secret."""
    introspectors: dict[str, Introspector] = {}
    for message in messages:
        name = message.name
        if not name or name in introspectors:
            raise InvalidResources(f"introspector {name!r}: no name, or one seen twice")
        try:
            url = httpx.URL(message.introspection_url)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise InvalidResources(f"introspector {name!r}: introspection_url is not http(s)")
        if not message.client_id or not message.player_id_claim or not message.roles_claim:
            raise InvalidResources(f"introspector {name!r}: no client_id, or a claim unnamed")
        durations = (message.max_cache_seconds, message.negative_cache_seconds)
        if not all(math.isfinite(d) and d >= 0 for d in durations) or not (
            0 < message.timeout_seconds <= 60
        ):
            raise InvalidResources(f"introspector {name!r}: a cache time or timeout is invalid")
        introspectors[name] = Introspector(
            name=name,
            url=message.introspection_url,
            authorization=_basic(message.client_id, message.client_secret),
            issuer=message.issuer,
            audiences=frozenset(message.audiences),
            required_scopes=frozenset(message.required_scopes),
            player_id_claim=_path(message.player_id_claim),
            roles_claim=_path(message.roles_claim),
            tier_claim=_path(message.tier_claim) if message.tier_claim else (),
            max_cache_seconds=message.max_cache_seconds,
            negative_cache_seconds=message.negative_cache_seconds,
            timeout_seconds=message.timeout_seconds,
        )
    return introspectors


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: both form-urlencoded before they are joined.
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _path(claim: str) -> tuple[str, ...]:
    return tuple(claim.split("."))


class BadAnswer(ValueError):
    """The provider's answer is not an RFC 7662 answer; says what, never the token."""


@dataclass(frozen=True, slots=True)
class _Kept:
    result: Identity | str  # the identity, or the reason (denials.REASONS) for refusing
    until: float  # seconds since the epoch


Key = tuple[str, bytes]  # (introspector name, keyed hash of the token)


class Introspection:
    """The verifier of opaque access tokens; its introspectors are replaced whole by their
    subscription. `clock` (seconds since the epoch) is what `exp` and `nbf` are compared with."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        cache_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._cache_size = cache_size
        self._clock = clock
        self._introspectors: Mapping[str, Introspector] = {}
        self._kept: OrderedDict[Key, _Kept] = OrderedDict()
        self._flights: dict[Key, asyncio.Future[Identity | str]] = {}
        # Per process: a hash kept in memory cannot be checked against guessed tokens elsewhere.
        self._hash_key = os.urandom(32)
        self._failing: set[str] = set()

    def replace(self, introspectors: Mapping[str, Introspector]) -> None:
        # What was learnt with a changed (or removed) introspector is forgotten.
        changed = {
            name for name, old in self._introspectors.items() if introspectors.get(name) != old
        }
        if changed:
            for key in [key for key in self._kept if key[0] in changed]:
                del self._kept[key]
        self._introspectors = introspectors
        metrics.INTROSPECTORS.set(len(introspectors))

    async def verify(self, presented: Presented, policy: RoutePolicy) -> Identity | str:
        """Asks the route's introspectors in order: the first that knows the token active
        decides. No answer from one of them and no active token: fail closed."""
        digest = hashlib.blake2b(presented.value.encode(), key=self._hash_key).digest()
        unavailable = False
        for name in policy.introspectors:
            introspector = self._introspectors.get(name)
            if introspector is None:  # not pushed yet: it cannot vouch for nor against a token
                unavailable = True
                continue
            result = await self._result(introspector, presented.value, (name, digest))
            if result == denials.INTROSPECTION_UNAVAILABLE:
                unavailable = True
            elif result != denials.INACTIVE_TOKEN:
                return result
        return denials.INTROSPECTION_UNAVAILABLE if unavailable else denials.INACTIVE_TOKEN

    async def _result(self, introspector: Introspector, token: str, key: Key) -> Identity | str:
        kept = self._kept.get(key)
        if kept is not None:
            if self._clock() < kept.until:
                self._kept.move_to_end(key)
                _CACHE["hit"].inc()
                return kept.result
            del self._kept[key]
        flight = self._flights.get(key)
        if flight is None:
            _CACHE["miss"].inc()
            flight = asyncio.ensure_future(self._introspect(introspector, token, key))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        else:
            _CACHE["shared"].inc()
        # A check Envoy gave up on does not cancel the call the others wait for.
        return await asyncio.shield(flight)

    async def _introspect(self, introspector: Introspector, token: str, key: Key) -> Identity | str:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(introspector.timeout_seconds):
                answer = await self._client.post(
                    introspector.url,
                    data={"token": token, "token_type_hint": "access_token"},
                    headers={
                        "authorization": introspector.authorization,
                        "accept": "application/json",
                    },
                    timeout=introspector.timeout_seconds,
                )
            if answer.status_code != 200:
                raise BadAnswer(f"status {answer.status_code}")
            now = self._clock()
            result, until = judge(introspector, answer.json(), now)
        except (httpx.HTTPError, TimeoutError, ValueError) as error:
            # ValueError: the body is not JSON, or BadAnswer. Never the token, nor its answer.
            _CALLS["error"].inc()
            self._failed(introspector.name, error)
            return denials.INTROSPECTION_UNAVAILABLE
        finally:
            metrics.INTROSPECTION_SECONDS.observe(time.perf_counter() - started)
        _CALLS["inactive" if result == denials.INACTIVE_TOKEN else "active"].inc()
        if introspector.name in self._failing:
            self._failing.discard(introspector.name)
            log.info("introspection answers again", extra={"introspector": introspector.name})
        # Kept only while the introspector that answered is still the live one.
        if until > now and self._introspectors.get(introspector.name) == introspector:
            self._kept[key] = _Kept(result, until)
            while len(self._kept) > self._cache_size:
                self._kept.popitem(last=False)
        return result

    def _failed(self, name: str, error: Exception) -> None:
        # Once per outage, not once per request.
        if name not in self._failing:
            self._failing.add(name)
            reason = str(error) if isinstance(error, BadAnswer) else type(error).__name__
            log.warning("introspection failed", extra={"introspector": name, "error": reason})


def judge(introspector: Introspector, answer: Any, now: float) -> tuple[Identity | str, float]:
    """What an RFC 7662 answer means for the gateway, and until when (epoch seconds) it holds."""
    if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
        raise BadAnswer("the answer is not a JSON object with a boolean 'active'")
    negative = now + introspector.negative_cache_seconds
    if not answer["active"]:
        return denials.INACTIVE_TOKEN, negative
    expires, not_before = _time(answer, "exp"), _time(answer, "nbf")
    if expires is not None and expires <= now:
        return denials.INACTIVE_TOKEN, negative
    if not_before is not None and not_before > now:
        return denials.INACTIVE_TOKEN, min(negative, not_before)
    # An answer about an active token holds while the token does, the cache time at most.
    until = min(now + introspector.max_cache_seconds, math.inf if expires is None else expires)
    scopes = _words(answer, SCOPE)
    if introspector.issuer and answer.get("iss") != introspector.issuer:
        return denials.TOKEN_NOT_ACCEPTED, until
    audiences = _words(answer, ("aud",), split=False)
    if introspector.audiences and introspector.audiences.isdisjoint(audiences):
        return denials.TOKEN_NOT_ACCEPTED, until
    if not introspector.required_scopes <= scopes:
        return denials.INSUFFICIENT_SCOPE, until
    player_id = _claim(answer, introspector.player_id_claim)
    tier = _claim(answer, introspector.tier_claim) if introspector.tier_claim else ""
    roles = (
        scopes if introspector.roles_claim == SCOPE else _words(answer, introspector.roles_claim)
    )
    return Identity(kind=OAUTH2, player_id=player_id, roles=roles, tier=tier), until


def _time(answer: dict[str, Any], member: str) -> float | None:
    value = answer.get(member)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadAnswer(f"'{member}' is not a number")
    return float(value)


def _find(answer: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = answer
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _claim(answer: dict[str, Any], path: tuple[str, ...]) -> str:
    value = _find(answer, path)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadAnswer(f"'{'.'.join(path)}' is not a string")
    return str(value)


def _words(answer: dict[str, Any], path: tuple[str, ...], *, split: bool = True) -> frozenset[str]:
    """A list of strings, or one string: split at spaces (`scope`), or whole (`aud`)."""
    value = _find(answer, path)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.split() if split else (value,))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise BadAnswer(f"'{'.'.join(path)}' is neither a string nor a list of strings")
